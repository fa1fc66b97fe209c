package shell

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// SQL given to database clients, classified statement by statement.

// sqlToken is one token of SQL: a word (keyword or identifier, upper-cased
// in up), a quoted identifier, or punctuation. String literals and
// comments are dropped; a client meta-command (psql's \dt, sqlite's
// .tables) is kept whole.
type sqlToken struct {
	text string // as written
	up   string // upper-cased, for keywords
	kind byte   // 'w' word, 'q' quoted identifier, 'p' punctuation, ';', 'm' meta-command
}

// tokenizeSQL splits SQL into tokens. MySQL's executable comments
// (/*! … */) are kept as SQL, since the server runs them.
func tokenizeSQL(s string) []sqlToken {
	var toks []sqlToken
	atStart := true // at the start of a statement, where meta-commands may be
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
			continue
		case c == '-' && i+1 < len(s) && s[i+1] == '-', c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if i+2 < len(s) && s[i+2] == '!' {
				i += 3 // MySQL runs /*! … */: keep its contents
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					i++
				}
				continue
			}
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				i = len(s)
			} else {
				i += end + 4
			}
			continue
		case c == '*' && i+1 < len(s) && s[i+1] == '/':
			i += 2 // end of a /*! … */ comment
			continue
		case (c == '\\' || c == '.') && atStart:
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				end = len(s) - i
			}
			line := strings.TrimSpace(s[i : i+end])
			if c == '\\' {
				// psql ends a meta-command at \\ too.
				if k := strings.Index(line[1:], "\\\\"); k >= 0 {
					line = line[:k+1]
					end = k + 1 + 2
				}
			}
			toks = append(toks, sqlToken{text: line, kind: 'm'})
			i += end
			continue
		case c == '\'':
			i = skipQuoted(s, i, '\'')
			atStart = false
			continue
		case c == '"' || c == '`':
			j := skipQuoted(s, i, c)
			toks = append(toks, sqlToken{text: s[i+1 : max(i+1, j-1)], up: strings.ToUpper(s[i+1 : max(i+1, j-1)]), kind: 'q'})
			i = j
			atStart = false
			continue
		case c == '$':
			// PostgreSQL dollar quoting: $tag$ … $tag$.
			if j := strings.IndexByte(s[i+1:], '$'); j >= 0 && isTag(s[i+1:i+1+j]) {
				tag := s[i : i+j+2]
				end := strings.Index(s[i+len(tag):], tag)
				if end < 0 {
					i = len(s)
				} else {
					i += len(tag) + end + len(tag)
				}
				atStart = false
				continue
			}
		case c == ';':
			toks = append(toks, sqlToken{text: ";", kind: ';'})
			i++
			atStart = true
			continue
		}
		if isWordByte(c) {
			j := i
			for j < len(s) && (isWordByte(s[j]) || s[j] == '.' || s[j] == '$') {
				j++
			}
			toks = append(toks, sqlToken{text: s[i:j], up: strings.ToUpper(s[i:j]), kind: 'w'})
			i = j
		} else {
			toks = append(toks, sqlToken{text: s[i : i+1], up: s[i : i+1], kind: 'p'})
			i++
		}
		atStart = false
	}
	return toks
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func isTag(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) || i == 0 && s[i] >= '0' && s[i] <= '9' {
			return false
		}
	}
	return true
}

// skipQuoted returns the index after the quoted string starting at i,
// honouring doubled quotes and backslash escapes.
func skipQuoted(s string, i int, q byte) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if q == '\'' {
				j++
			}
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// sqlVerdict is the classification of one statement.
type sqlVerdict struct {
	class  gatehouse.Class
	risk   int
	reason string
	target string
}

// sql classifies the SQL text that the command c runs, labelled label
// (psql -c), statement by statement.
func (c *call) sql(text, label string) {
	toks := tokenizeSQL(text)
	start := 0
	found := false
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) && toks[i].kind != ';' && toks[i].kind != 'm' {
			continue
		}
		if i > start {
			v := classifyStatement(toks[start:i])
			c.is(v.class, v.risk, "%s: %s", label, v.reason)
			c.target(v.target)
			found = true
		}
		if i < len(toks) && toks[i].kind == 'm' {
			c.meta(toks[i].text, label)
			found = true
		}
		start = i + 1
	}
	if !found {
		c.is(gatehouse.ClassRead, riskRead, "%s: no SQL statement", label)
	}
}

// meta classifies a client meta-command: psql's backslash commands and
// sqlite's dot commands.
func (c *call) meta(cmd, label string) {
	name, rest, _ := strings.Cut(cmd, " ")
	rest = strings.TrimSpace(rest)
	switch name {
	case "\\!", ".shell", ".system":
		c.shell(rest, label+" "+name)
	case "\\i", "\\ir", "\\include", "\\include_relative", ".read":
		c.is(gatehouse.ClassWrite, riskUnknown, "%s %s: runs SQL from %s, which analysis cannot see", label, name, rest)
		c.target(rest)
	case "\\gexec":
		c.is(gatehouse.ClassWrite, riskUnknown, "%s \\gexec: runs SQL computed by a query", label)
	case "\\copy", ".import", ".restore", ".clone", ".load":
		c.is(gatehouse.ClassWrite, riskUnknown, "%s %s: loads data", label, name)
	case "\\o", "\\out", "\\w", "\\write", ".output", ".once", ".save", ".backup", ".excel":
		if rest != "" {
			c.is(gatehouse.ClassWrite, riskWrite, "%s %s: writes %s", label, name, rest)
			c.target(rest)
		}
	default:
		c.is(gatehouse.ClassRead, riskRead, "%s %s: client command", label, name)
	}
}

var sqlRead = map[string]bool{
	"SELECT": true, "SHOW": true, "DESCRIBE": true, "DESC": true, "VALUES": true, "TABLE": true,
	"BEGIN": true, "START": true, "COMMIT": true, "END": true, "ROLLBACK": true, "SAVEPOINT": true, "RELEASE": true,
	"SET": true, "RESET": true, "USE": true, "LISTEN": true, "UNLISTEN": true, "FETCH": true, "DECLARE": true,
	"CLOSE": true, "PREPARE": true, "DEALLOCATE": true, "HELP": true, "STATUS": true, "CHECK": true, "CHECKSUM": true,
	"ABORT": true, "MOVE": true,
}

var sqlWrite = map[string]bool{
	"INSERT": true, "CREATE": true, "REPLACE": true, "UPSERT": true, "MERGE": true, "GRANT": true, "REVOKE": true,
	"COPY": true, "LOAD": true, "VACUUM": true, "REINDEX": true, "CLUSTER": true, "COMMENT": true, "REFRESH": true,
	"CALL": true, "DO": true, "LOCK": true, "IMPORT": true, "RENAME": true, "OPTIMIZE": true, "ATTACH": true,
	"DETACH": true, "SECURITY": true, "REASSIGN": true, "ANALYZE": true, "ANALYSE": true, "EXECUTE": true, "EXEC": true,
	"NOTIFY": true, "INSTALL": true, "UNINSTALL": true, "FLUSH": true, "KILL": true, "CHECKPOINT": true, "DISCARD": true,
	"SYSTEM": true, "RESTORE": true, "BACKUP": true,
}

// classifyStatement classifies one SQL statement.
func classifyStatement(toks []sqlToken) sqlVerdict {
	first := toks[0].up
	switch first {
	case "WITH":
		// WITH … AS (…) [,…] the statement: find its verb at depth 0.
		depth := 0
		for i := 1; i < len(toks); i++ {
			switch toks[i].up {
			case "(":
				depth++
			case ")":
				depth--
			case "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE":
				if depth == 0 {
					return classifyStatement(toks[i:])
				}
			}
		}
		return sqlVerdict{gatehouse.ClassRead, riskRead, "WITH …: reads only", ""}
	case "EXPLAIN":
		// EXPLAIN ANALYZE runs the statement.
		for i := 1; i < len(toks); i++ {
			switch toks[i].up {
			case "ANALYZE", "ANALYSE":
				for j := i + 1; j < len(toks); j++ {
					if u := toks[j].up; u == "SELECT" || u == "INSERT" || u == "UPDATE" || u == "DELETE" || u == "MERGE" || u == "WITH" {
						return classifyStatement(toks[j:])
					}
				}
			}
		}
		return sqlVerdict{gatehouse.ClassRead, riskRead, "EXPLAIN: reads only", ""}
	case "PRAGMA":
		for _, t := range toks {
			if t.up == "=" || t.up == "(" {
				return sqlVerdict{gatehouse.ClassWrite, riskWrite, "PRAGMA …: changes a database setting", ""}
			}
		}
		return sqlVerdict{gatehouse.ClassRead, riskRead, "PRAGMA: reads a setting", ""}
	case "DROP":
		kind, name := objectAfter(toks[1:])
		return sqlVerdict{gatehouse.ClassIrreversible, riskIrreversible, "DROP " + kind + " " + name + " deletes it and its data", strings.ToLower(kind) + " " + name}
	case "TRUNCATE":
		_, name := objectAfter(toks[1:])
		return sqlVerdict{gatehouse.ClassIrreversible, riskIrreversible, "TRUNCATE " + name + " deletes every row", "table " + name}
	case "DELETE", "UPDATE":
		name := tableOf(toks)
		if whereClause(toks) {
			if first == "DELETE" {
				return sqlVerdict{gatehouse.ClassWrite, riskUnknown, "DELETE FROM " + name + " … WHERE deletes the rows it selects", "table " + name}
			}
			return sqlVerdict{gatehouse.ClassWrite, riskUnknown, "UPDATE " + name + " … WHERE changes the rows it selects", "table " + name}
		}
		what := "removes every row of " + name
		if first == "UPDATE" {
			what = "changes every row of " + name
		}
		return sqlVerdict{gatehouse.ClassDestructive, riskHigh, first + " without WHERE " + what, "table " + name}
	case "ALTER":
		kind, name := objectAfter(toks[1:])
		for _, t := range toks[1:] {
			if t.up == "DROP" {
				return sqlVerdict{gatehouse.ClassDestructive, riskDestructive, "ALTER " + kind + " " + name + " … DROP removes a column or constraint with its data", strings.ToLower(kind) + " " + name}
			}
		}
		return sqlVerdict{gatehouse.ClassWrite, riskUnknown, "ALTER " + kind + " " + name + " changes the schema", strings.ToLower(kind) + " " + name}
	case "SELECT":
		for i, t := range toks {
			if t.up == "INTO" && i > 0 {
				return sqlVerdict{gatehouse.ClassWrite, riskWrite, "SELECT … INTO creates a table or writes a file", ""}
			}
		}
	}
	switch {
	case sqlRead[first]:
		return sqlVerdict{gatehouse.ClassRead, riskRead, first + ": reads only", ""}
	case sqlWrite[first]:
		return sqlVerdict{gatehouse.ClassWrite, riskUnknown, first + ": changes the database", ""}
	}
	return sqlVerdict{gatehouse.ClassWrite, riskUnknown, "unrecognised SQL statement " + toks[0].text, ""}
}

// objectAfter returns the kind and name of the object in DROP KIND [IF
// EXISTS] NAME, TRUNCATE [TABLE] NAME, ALTER KIND NAME.
func objectAfter(toks []sqlToken) (kind, name string) {
	i := 0
	var kinds []string
	for ; i < len(toks) && toks[i].kind == 'w'; i++ {
		switch toks[i].up {
		case "IF", "EXISTS", "ONLY", "CONCURRENTLY", "TEMPORARY", "TEMP":
			continue
		case "TABLE", "DATABASE", "SCHEMA", "VIEW", "INDEX", "SEQUENCE", "FUNCTION", "PROCEDURE", "TRIGGER", "USER", "ROLE",
			"TYPE", "EXTENSION", "MATERIALIZED", "KEYSPACE", "COLLECTION", "OWNED", "COLUMN", "CONSTRAINT", "EVENT", "DOMAIN", "POLICY", "TABLESPACE":
			kinds = append(kinds, toks[i].up)
			continue
		}
		break
	}
	kind = strings.Join(kinds, " ")
	if kind == "" {
		kind = "TABLE"
	}
	if i < len(toks) && (toks[i].kind == 'w' || toks[i].kind == 'q') {
		name = toks[i].text
	}
	return kind, name
}

// tableOf returns the table of DELETE [FROM] T or UPDATE T.
func tableOf(toks []sqlToken) string {
	for i := 1; i < len(toks); i++ {
		switch toks[i].up {
		case "FROM", "ONLY", "LOW_PRIORITY", "IGNORE", "QUICK", "OR", "ROLLBACK", "ABORT", "REPLACE", "FAIL":
			continue
		}
		if toks[i].kind == 'w' || toks[i].kind == 'q' {
			return toks[i].text
		}
		break
	}
	return "the table"
}

// whereClause reports whether the statement has a WHERE that may select
// fewer than all rows: not when it has none or a trivially true one
// (WHERE 1=1, WHERE true).
func whereClause(toks []sqlToken) bool {
	depth := 0
	for i, t := range toks {
		switch t.up {
		case "(":
			depth++
		case ")":
			depth--
		case "WHERE":
			if depth != 0 {
				continue
			}
			return !trivial(toks[i+1:])
		}
	}
	return false
}

func trivial(toks []sqlToken) bool {
	var parts []string
	for _, t := range toks {
		if t.up == "LIMIT" || t.up == "RETURNING" || t.up == "ORDER" {
			break
		}
		parts = append(parts, t.up)
	}
	switch strings.Join(parts, " ") {
	case "1 = 1", "TRUE", "1", "1 = 1 OR", "'1' = '1'", "1 <> 0", "0 = 0", "NOT FALSE", "", "TRUE = TRUE":
		return true
	}
	return false
}

// SQL clients.

var psqlFlags = flags{short: "cdfhpUvoLPFRTsS", long: "command dbname file host port username set variable output log-file pset field-separator record-separator table-attr"}

func psqlRule(c *call) {
	opts, ops := psqlFlags.scan(c.args)
	db, _ := value(opts, "-d", "--dbname")
	if db == "" && len(ops) > 0 {
		db = c.args[ops[0]].val
	}
	c.dbTargets(db, opts, "-h", "--host")
	if has(opts, "-l", "--list", "-V", "--version", "--help") {
		c.is(gatehouse.ClassRead, riskRead, "psql: lists databases or prints information")
		return
	}
	found := false
	for _, o := range opts {
		switch o.name {
		case "-c", "--command":
			c.sql(o.value, "psql -c")
			found = true
		case "-f", "--file":
			if o.value == "-" {
				continue
			}
			c.is(gatehouse.ClassWrite, riskUnknown, "psql -f: runs SQL from %s, which analysis cannot see", o.value)
			c.target(o.value)
			found = true
		}
	}
	if !found {
		c.sqlStdin("psql")
	}
}

// dbTargets notes the database and host a client connects to.
func (c *call) dbTargets(db string, opts []opt, hostFlags ...string) {
	if db != "" {
		if strings.Contains(db, "://") {
			c.target(hostOf(db))
		} else {
			c.target("database " + db)
		}
	}
	if h, ok := value(opts, hostFlags...); ok {
		c.target(h)
	}
}

// sqlStdin classifies a client that reads SQL from its standard input.
func (c *call) sqlStdin(label string) {
	c.fromStdin("SQL client", func(text string) { c.sql(text, label) })
}

var mysqlFlags = flags{short: "uhPDSeHB", long: "user host port database socket execute default-character-set defaults-file defaults-extra-file init-command"}

func mysqlRule(c *call) {
	opts, ops := mysqlFlags.scan(c.args)
	db, _ := value(opts, "-D", "--database")
	if db == "" && len(ops) > 0 {
		db = c.args[ops[0]].val
	}
	c.dbTargets(db, opts, "-h", "--host")
	if has(opts, "-V", "--version", "--help", "-?") {
		c.is(gatehouse.ClassRead, riskRead, "%s: prints information", c.name)
		return
	}
	if sql, ok := value(opts, "-e", "--execute"); ok {
		c.sql(sql, c.name+" -e")
		return
	}
	c.sqlStdin(c.name)
}

// sqlite3 [OPTIONS] FILE [SQL…], and duckdb likewise.
func sqliteRule(c *call) {
	f := flags{single: true, long: "cmd init separator newline nullvalue vfs mmap pagecache lookaside heap maxsize escape c s"}
	opts, ops := f.scan(c.args)
	if has(opts, "-version", "--version", "-help", "--help") {
		c.is(gatehouse.ClassRead, riskRead, "%s: prints information", c.name)
		return
	}
	found := false
	for _, o := range opts {
		switch o.name {
		case "-cmd", "--cmd", "-c", "-s":
			c.sql(o.value, c.name+" "+o.name)
			found = true
		case "-init", "--init":
			c.is(gatehouse.ClassWrite, riskUnknown, "%s -init: runs SQL from %s, which analysis cannot see", c.name, o.value)
			found = true
		}
	}
	if len(ops) > 0 {
		c.target(c.args[ops[0]].val)
		for _, i := range ops[1:] {
			c.sql(c.args[i].val, c.name)
			found = true
		}
	}
	if !found {
		c.sqlStdin(c.name)
	}
	if has(opts, "-readonly", "--readonly") && c.class != gatehouse.ClassRead {
		c.class, c.risk = gatehouse.ClassRead, riskRead
		c.is(gatehouse.ClassRead, riskRead, "%s -readonly: the database is opened read-only", c.name)
	}
}

func clickhouseRule(c *call) {
	args := c.args
	label := c.name
	if c.name == "clickhouse" {
		if len(args) == 0 || args[0].val != "client" && args[0].val != "local" {
			c.is(gatehouse.ClassWrite, riskUnknown, "clickhouse: runs a server tool")
			return
		}
		label = "clickhouse " + args[0].val
		args = args[1:]
	}
	opts, _ := flags{short: "qhudp", long: "query host user password database port queries-file config-file"}.scan(args)
	c.dbTargets("", opts, "-h", "--host")
	found := false
	for _, q := range values(opts, "-q", "--query") {
		c.sql(q, label+" --query")
		found = true
	}
	if f, ok := value(opts, "--queries-file"); ok {
		c.is(gatehouse.ClassWrite, riskUnknown, "%s: runs SQL from %s, which analysis cannot see", label, f)
		found = true
	}
	if !found {
		c.sqlStdin(label)
	}
}

func cockroachRule(c *call) {
	if len(c.args) == 0 || c.args[0].val != "sql" {
		verb := ""
		if len(c.args) > 0 {
			verb = c.args[0].val
		}
		switch verb {
		case "version", "help", "":
			c.is(gatehouse.ClassRead, riskRead, "cockroach %s: prints information", verb)
		case "node":
			if len(c.args) > 1 && (c.args[1].val == "decommission" || c.args[1].val == "drain") {
				c.is(gatehouse.ClassDestructive, riskHigh, "cockroach node %s: takes a node out of the cluster", c.args[1].val)
				return
			}
			c.is(gatehouse.ClassRead, riskRead, "cockroach node: reads node status")
		default:
			c.is(gatehouse.ClassWrite, riskUnknown, "cockroach %s: runs a cluster tool", verb)
		}
		return
	}
	opts, _ := flags{short: "ef", long: "execute file url host database user certs-dir"}.scan(c.args[1:])
	c.dbTargets("", opts, "--host", "--url")
	found := false
	for _, q := range values(opts, "-e", "--execute") {
		c.sql(q, "cockroach sql -e")
		found = true
	}
	if f, ok := value(opts, "-f", "--file"); ok {
		c.is(gatehouse.ClassWrite, riskUnknown, "cockroach sql -f: runs SQL from %s, which analysis cannot see", f)
		found = true
	}
	if !found {
		c.sqlStdin("cockroach sql")
	}
}

// Database administration tools.

func mysqladminRule(c *call) {
	_, ops := mysqlFlags.scan(c.args)
	if len(ops) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "mysqladmin: prints usage")
		return
	}
	switch v := c.args[ops[0]].val; v {
	case "drop":
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "mysqladmin drop: deletes a database and its data")
		if len(ops) > 1 {
			c.target("database " + c.args[ops[1]].val)
		}
	case "shutdown", "kill":
		c.is(gatehouse.ClassDestructive, riskDestructive, "mysqladmin %s: stops the server or its threads", v)
	case "status", "ping", "processlist", "variables", "version", "extended-status":
		c.is(gatehouse.ClassRead, riskRead, "mysqladmin %s: reads only", v)
	default:
		c.is(gatehouse.ClassWrite, riskUnknown, "mysqladmin %s: changes the server", v)
	}
}

func dropdbRule(c *call) {
	_, ops := psqlFlags.scan(c.args)
	c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s: deletes a database and its data", c.name)
	for _, i := range ops {
		c.target("database " + c.args[i].val)
	}
}

func pgRestoreRule(c *call) {
	opts, _ := flags{short: "dfhpUnNtTIPLSj", long: "dbname file host port username schema table index function trigger"}.scan(c.args)
	if d, ok := value(opts, "-d", "--dbname"); ok {
		c.target("database " + d)
	} else {
		c.is(gatehouse.ClassRead, riskRead, "pg_restore: writes SQL to standard output")
		return
	}
	if has(opts, "-c", "--clean") {
		c.is(gatehouse.ClassDestructive, riskHigh, "pg_restore --clean: drops database objects before recreating them")
		return
	}
	c.is(gatehouse.ClassWrite, riskUnknown, "pg_restore: loads a dump into the database")
}

func dumpRule(c *call) {
	opts, _ := flags{short: "fdhpUnNtTru", long: "file dbname host port username schema table result-file user"}.scan(c.args)
	if f, ok := value(opts, "-f", "--file", "-r", "--result-file"); ok {
		c.is(gatehouse.ClassWrite, riskWrite, "%s: writes a dump to %s", c.name, f)
		c.target(f)
		return
	}
	c.is(gatehouse.ClassRead, riskRead, "%s: writes a dump to standard output", c.name)
}

func redisRule(c *call) {
	opts, ops := flags{short: "hpansuirdc", long: "user pass askpass tls cacert cert key sni"}.scan(c.args)
	if h, ok := value(opts, "-h"); ok {
		c.target(h)
	}
	if len(ops) == 0 {
		if has(opts, "--scan", "--bigkeys", "--memkeys", "--stat", "--latency", "--hotkeys") {
			c.is(gatehouse.ClassRead, riskRead, "redis-cli: reads statistics")
			return
		}
		c.fromStdin("redis client", func(string) {
			c.is(gatehouse.ClassWrite, riskUnknown, "redis-cli: runs commands from standard input")
		})
		return
	}
	cmd := strings.ToUpper(c.args[ops[0]].val)
	switch cmd {
	case "FLUSHALL", "FLUSHDB":
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "redis-cli %s: deletes every key", cmd)
	case "DEL", "UNLINK", "SHUTDOWN", "EXPIRE", "PEXPIRE", "GETDEL", "SWAPDB", "DEBUG", "SCRIPT", "FUNCTION":
		c.is(gatehouse.ClassDestructive, riskDestructive, "redis-cli %s: deletes keys or stops the server", cmd)
	case "GET", "MGET", "KEYS", "SCAN", "INFO", "PING", "TTL", "PTTL", "TYPE", "EXISTS", "HGET", "HGETALL", "HKEYS", "HLEN",
		"LRANGE", "LLEN", "SMEMBERS", "SCARD", "ZRANGE", "ZCARD", "DBSIZE", "STRLEN", "MONITOR", "SLOWLOG", "LATENCY", "MEMORY", "XRANGE", "XLEN", "HSCAN", "SSCAN", "ZSCAN", "CLIENT", "ROLE", "TIME", "LASTSAVE", "CONFIG":
		if cmd == "CONFIG" && len(ops) > 1 && strings.ToUpper(c.args[ops[1]].val) != "GET" {
			c.is(gatehouse.ClassWrite, riskUnknown, "redis-cli CONFIG: changes server configuration")
			return
		}
		c.is(gatehouse.ClassRead, riskRead, "redis-cli %s: reads only", cmd)
	default:
		c.is(gatehouse.ClassWrite, riskUnknown, "redis-cli %s: changes data", cmd)
	}
}

func mongoRule(c *call) {
	opts, _ := flags{long: "eval host port username password authenticationDatabase file"}.scan(c.args)
	js, ok := value(opts, "--eval")
	if !ok {
		c.fromStdin("mongo shell", func(string) {
			c.is(gatehouse.ClassWrite, riskUnknown, "%s: runs JavaScript from standard input", c.name)
		})
		return
	}
	l := strings.ToLower(js)
	switch {
	case strings.Contains(l, "dropdatabase(") || strings.Contains(l, ".drop(") || strings.Contains(l, "dropcollection"):
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s --eval: drops a database or collection", c.name)
	case strings.Contains(l, "deletemany(") || strings.Contains(l, ".remove(") || strings.Contains(l, "deleteone(") || strings.Contains(l, "findoneanddelete("):
		c.is(gatehouse.ClassDestructive, riskDestructive, "%s --eval: deletes documents", c.name)
	case strings.Contains(l, "insert") || strings.Contains(l, "update") || strings.Contains(l, "replace") || strings.Contains(l, "createindex") || strings.Contains(l, "$out") || strings.Contains(l, "$merge"):
		c.is(gatehouse.ClassWrite, riskUnknown, "%s --eval: changes documents", c.name)
	case strings.Contains(l, "find(") || strings.Contains(l, "count") || strings.Contains(l, "aggregate(") || strings.Contains(l, "getcollectionnames") || strings.Contains(l, "stats(") || strings.Contains(l, "show "):
		c.is(gatehouse.ClassRead, riskRead, "%s --eval: reads only", c.name)
	default:
		c.is(gatehouse.ClassWrite, riskUnknown, "%s --eval: runs JavaScript analysis does not inspect", c.name)
	}
}
