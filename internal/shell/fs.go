package shell

import (
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/gatehouse-dev/gatehouse"
)

// Files, paths, redirections and the commands that delete or overwrite.

// effect is what a redirection does, added to the command it belongs to.
type effect struct {
	class  gatehouse.Class
	risk   int
	reason string
	target string
}

// redirects analyses a statement's redirections: the files they write,
// and what standard input becomes (a heredoc, a here-string, a file).
func (a *analyzer) redirects(rs []*syntax.Redirect, in stream) ([]effect, stream) {
	var fx []effect
	for _, r := range rs {
		switch r.Op {
		case syntax.Hdoc, syntax.DashHdoc:
			q := heredoc
			if quotedDelimiter(r.Word) {
				q = rawHeredoc
			}
			body := a.word(r.Hdoc, q)
			in = stream{kind: streamLiteral, text: body.val}
			continue
		case syntax.WordHdoc:
			w := a.word(r.Word, unquoted)
			in = stream{kind: streamLiteral, text: w.val}
			continue
		}
		w := a.word(r.Word, unquoted)
		if isProcSubst(r.Word) {
			continue // > >(cmd): the command is analysed, there is no file
		}
		var e effect
		var ok bool
		switch r.Op {
		case syntax.RdrIn:
			in = stream{kind: streamFile, text: w.val}
			if host, isNet := netDevice(w.val); isNet {
				in = stream{kind: streamDownload, text: host}
			}
		case syntax.RdrOut, syntax.RdrClob, syntax.RdrAll, syntax.RdrAllClob:
			e, ok = fileEffect(w.val, "redirect "+r.Op.String(), false)
		case syntax.DplOut:
			if !isFd(w.val) {
				e, ok = fileEffect(w.val, "redirect "+r.Op.String(), false)
			}
		case syntax.AppOut, syntax.AppAll, syntax.AppClob:
			e, ok = fileEffect(w.val, "redirect "+r.Op.String(), true)
		case syntax.RdrInOut:
			e, ok = fileEffect(w.val, "redirect <>", true)
		}
		if ok {
			fx = append(fx, e)
		}
	}
	return fx, in
}

func isProcSubst(w *syntax.Word) bool {
	if w == nil || len(w.Parts) != 1 {
		return false
	}
	_, ok := w.Parts[0].(*syntax.ProcSubst)
	return ok
}

func quotedDelimiter(w *syntax.Word) bool {
	if w == nil || len(w.Parts) != 1 {
		return true
	}
	l, ok := w.Parts[0].(*syntax.Lit)
	return !ok || strings.ContainsRune(l.Value, '\\')
}

func isFd(s string) bool {
	if s == "-" {
		return true
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// fileEffect is the effect of writing to p (by a redirection, tee, …),
// or false when p is a sink such as /dev/null.
func fileEffect(p, how string, appending bool) (effect, bool) {
	switch {
	case p == "" || isSink(p):
		return effect{}, false
	case strings.HasPrefix(p, "/dev/tcp/") || strings.HasPrefix(p, "/dev/udp/"):
		host, _ := netDevice(p)
		return effect{gatehouse.ClassIrreversible, riskIrreversible, "sends data to " + host + " over the network (" + how + ")", host}, true
	case isDevice(p):
		return effect{gatehouse.ClassIrreversible, riskMax, "overwrites the device " + p + " (" + how + ")", p}, true
	}
	e := effect{gatehouse.ClassWrite, 35, "overwrites " + p + " (" + how + ")", p}
	if appending {
		e = effect{gatehouse.ClassWrite, 25, "appends to " + p + " (" + how + ")", p}
	}
	if sensitive(p) {
		e.risk = 50
		e.reason += "; it is a system or login file"
	}
	return e, true
}

// isSink reports whether writing to p has no lasting effect.
func isSink(p string) bool {
	switch p {
	case "/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom":
		return true
	}
	return strings.HasPrefix(p, "/dev/fd/") || strings.HasPrefix(p, "/dev/pts/") || strings.HasPrefix(p, "/proc/self/fd/")
}

// isDevice reports whether p names a device (a disk, memory, …) rather
// than a file: writing to it is irreversible.
func isDevice(p string) bool {
	if !strings.HasPrefix(p, "/dev/") || isSink(p) {
		return false
	}
	return !strings.HasPrefix(p, "/dev/shm/") && !strings.HasPrefix(p, "/dev/mqueue/") &&
		!strings.HasPrefix(p, "/dev/tcp/") && !strings.HasPrefix(p, "/dev/udp/")
}

// netDevice returns the host of bash's /dev/tcp/HOST/PORT and
// /dev/udp/HOST/PORT.
func netDevice(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/dev/tcp/")
	if !ok {
		rest, ok = strings.CutPrefix(p, "/dev/udp/")
	}
	if !ok {
		return "", false
	}
	host, _, _ := strings.Cut(rest, "/")
	return host, true
}

// sensitive reports whether p is a system file or one that runs code at
// login (a place an agent should not write quietly).
func sensitive(p string) bool {
	for _, dir := range []string{"/etc/", "/boot/", "/usr/", "/bin/", "/sbin/", "/lib", "/var/lib/", "/root/"} {
		if strings.HasPrefix(p, dir) {
			return true
		}
	}
	if strings.Contains(p, "/.ssh/") || strings.HasPrefix(p, ".ssh/") {
		return true
	}
	switch path.Base(p) {
	case ".bashrc", ".bash_profile", ".profile", ".zshrc", ".zprofile", ".bash_login", ".zshenv", ".gitconfig", "authorized_keys", "sudoers", "crontab":
		return true
	}
	return false
}

// systemDirs are directories whose recursive removal breaks the system or
// loses everyone's data.
var systemDirs = map[string]bool{
	"/bin": true, "/boot": true, "/dev": true, "/etc": true, "/home": true, "/lib": true, "/lib32": true,
	"/lib64": true, "/libx32": true, "/media": true, "/mnt": true, "/opt": true, "/proc": true, "/root": true,
	"/run": true, "/sbin": true, "/srv": true, "/sys": true, "/usr": true, "/var": true, "/snap": true,
	"/usr/bin": true, "/usr/lib": true, "/usr/local": true, "/usr/sbin": true, "/usr/share": true,
	"/usr/include": true, "/usr/local/bin": true, "/var/lib": true, "/var/log": true,
	"/Users": true, "/System": true, "/Library": true, "/Applications": true, "/private": true,
}

// catastrophic describes what p covers when that is the whole system, a
// home directory, a system directory or the whole working directory, or
// returns "".
func catastrophic(p string) string {
	s := p
	for {
		switch {
		case strings.HasSuffix(s, "/*"):
			s = s[:len(s)-2]
		case strings.HasSuffix(s, "/.*"):
			s = s[:len(s)-3]
		case strings.HasSuffix(s, "/."):
			s = s[:len(s)-2]
		case len(s) > 1 && strings.HasSuffix(s, "/"):
			s = s[:len(s)-1]
		default:
			goto trimmed
		}
	}
trimmed:
	if s == "" || strings.HasPrefix(s, "/") && path.Clean(s) == "/" {
		return "the whole filesystem (/)"
	}
	switch s {
	case "~", "$HOME", "${HOME}":
		return "the home directory (" + p + ")"
	case ".", "*", ".*":
		return "the whole working directory (" + p + ")"
	}
	if strings.HasPrefix(s, "~") && !strings.Contains(s, "/") {
		return "a home directory (" + p + ")"
	}
	if strings.Trim(s, "./") == "" && strings.Contains(s, "..") {
		return "a parent of the working directory (" + p + ")"
	}
	if strings.HasPrefix(s, "/") {
		if systemDirs[path.Clean(s)] {
			return "the system directory " + path.Clean(s)
		}
	}
	return ""
}

// emptyVarRoot returns the variable in a path like $DIR/ or ${DIR}/*,
// which means / when the variable is empty or unset.
func emptyVarRoot(p string) string {
	if !strings.HasPrefix(p, "$") {
		return ""
	}
	v, rest, ok := strings.Cut(p[1:], "/")
	if !ok {
		return ""
	}
	switch rest {
	case "", "*", ".*":
	default:
		return ""
	}
	name := strings.TrimSuffix(strings.TrimPrefix(v, "{"), "}")
	if name == "" || strings.ContainsAny(name, ":-=?+#%/") {
		return ""
	}
	return name
}

func rmRule(c *call) {
	opts, ops := flags{}.scan(c.args)
	recursive := has(opts, "-r", "-R", "--recursive")
	paths := pick(c.args, ops)
	c.target(vals(paths)...)
	if recursive {
		c.is(gatehouse.ClassDestructive, 75, "rm -r: deletes directories and everything in them")
	} else {
		c.is(gatehouse.ClassDestructive, 65, "rm: deletes files")
	}
	if has(opts, "--no-preserve-root") {
		c.is(gatehouse.ClassIrreversible, riskMax, "rm --no-preserve-root: may delete the whole filesystem")
	}
	for _, p := range paths {
		what := catastrophic(p.val)
		switch {
		case what != "" && (recursive || strings.HasPrefix(p.val, "/") && strings.HasSuffix(p.val, "*")):
			c.is(gatehouse.ClassIrreversible, riskMax, "rm: deletes %s", what)
		case recursive && p.dyn:
			if v := emptyVarRoot(p.val); v != "" {
				c.is(gatehouse.ClassDestructive, 89, "rm -r %s: if %s is empty or unset this deletes from /", p.val, v)
			} else {
				c.is(gatehouse.ClassDestructive, riskHigh, "rm -r: target %s is computed at run time", p.val)
			}
		}
	}
}

func findRule(c *call) {
	args := c.args
	i := 0
	for i < len(args) {
		s := args[i].val
		if s == "-H" || s == "-L" || s == "-P" || strings.HasPrefix(s, "-O") {
			i++
		} else if s == "-D" {
			i += 2
		} else {
			break
		}
	}
	var starts []string
	for ; i < len(args); i++ {
		s := args[i].val
		if strings.HasPrefix(s, "-") || s == "(" || s == "!" || s == ")" || s == "," {
			break
		}
		starts = append(starts, s)
	}
	worst := ""
	for _, s := range starts {
		if w := catastrophic(s); w != "" && !strings.HasSuffix(w, "(.)") {
			worst = w
		}
	}
	for ; i < len(args); i++ {
		switch s := args[i].val; s {
		case "-delete":
			c.is(gatehouse.ClassDestructive, 75, "find -delete: deletes every file it matches")
			c.target(starts...)
			if worst != "" {
				c.is(gatehouse.ClassIrreversible, riskMax, "find -delete: deletes from %s", worst)
			}
		case "-exec", "-execdir", "-ok", "-okdir":
			j := i + 1
			for j < len(args) && args[j].val != ";" && args[j].val != "+" {
				j++
			}
			if sub := args[i+1 : j]; len(sub) > 0 {
				x := c.x
				x.wrappers = append(x.wrappers[:len(x.wrappers):len(x.wrappers)], "find "+s)
				x.fx, x.in, x.fromInput = nil, stream{}, true
				n := len(c.a.cmds)
				c.a.run(sub, x)
				if worst != "" && len(c.a.cmds) > n && c.a.cmds[len(c.a.cmds)-1].Class.Severity() >= gatehouse.ClassDestructive.Severity() {
					c.is(gatehouse.ClassIrreversible, riskMax, "find %s: runs a destructive command on everything in %s", s, worst)
				}
			}
			i = j
		case "-fprint", "-fprint0", "-fls", "-fprintf":
			if i+1 < len(args) {
				if e, ok := fileEffect(args[i+1].val, "find "+s, false); ok {
					c.is(e.class, e.risk, "%s", e.reason)
					c.target(e.target)
				}
				i++
			}
		}
	}
	if c.class == "" {
		c.is(gatehouse.ClassRead, riskRead, "find: reads only")
	}
}

func ddRule(c *call) {
	of := ""
	for _, a := range c.args {
		if v, ok := strings.CutPrefix(a.val, "of="); ok {
			of = v
		}
	}
	switch {
	case of == "":
		c.is(gatehouse.ClassRead, riskRead, "dd: copies to standard output")
		c.out = c.x.in
		return
	case isSink(of):
		c.is(gatehouse.ClassRead, riskRead, "dd: copies to %s", of)
		return
	}
	if e, ok := fileEffect(of, "dd of=", false); ok && e.class == gatehouse.ClassIrreversible {
		c.is(e.class, e.risk, "dd: %s", e.reason)
	} else {
		c.is(gatehouse.ClassDestructive, riskDestructive, "dd: overwrites %s", of)
	}
	c.target(of)
}

// devices returns the operands of c that name devices, or all of them
// when none does.
func devices(c *call, f flags) []string {
	_, ops := f.scan(c.args)
	var devs, all []string
	for _, i := range ops {
		v := c.args[i].val
		all = append(all, v)
		if strings.HasPrefix(v, "/dev/") {
			devs = append(devs, v)
		}
	}
	if len(devs) > 0 {
		return devs
	}
	return all
}

// disk returns the rule of a partitioning or formatting tool, which only
// reads when one of the listing options is given.
func disk(what string, f flags, listing ...string) rule {
	return by(func(c *call) {
		opts, _ := f.scan(c.args)
		if len(listing) > 0 && has(opts, listing...) {
			c.is(gatehouse.ClassRead, riskRead, "%s: lists partitions or signatures", c.name)
			return
		}
		c.is(gatehouse.ClassIrreversible, riskMax, "%s: %s", c.name, what)
		c.target(devices(c, f)...)
	})
}

func wipefsRule(c *call) {
	f := flags{short: "optO", long: "offset types output"}
	opts, _ := f.scan(c.args)
	if has(opts, "-n", "--no-act") || !has(opts, "-a", "--all", "-o", "--offset") {
		c.is(gatehouse.ClassRead, riskRead, "wipefs: lists signatures")
		return
	}
	c.is(gatehouse.ClassIrreversible, riskMax, "wipefs: erases filesystem signatures, making the data unreachable")
	c.target(devices(c, f)...)
}

func partedRule(c *call) {
	f := flags{short: "a", long: "align"}
	opts, ops := f.scan(c.args)
	readOnly := has(opts, "-l", "--list")
	if !readOnly && len(ops) > 1 {
		readOnly = true
		for _, i := range ops[1:] {
			switch c.args[i].val {
			case "print", "p", "help", "unit", "s", "B", "MB", "GB", "MiB", "GiB", "%", "free", "list", "all":
			default:
				readOnly = false
			}
		}
	}
	if readOnly {
		c.is(gatehouse.ClassRead, riskRead, "parted: prints the partition table")
		return
	}
	c.is(gatehouse.ClassIrreversible, riskMax, "parted: changes the partition table")
	c.target(devices(c, f)...)
}

func shredRule(c *call) {
	f := flags{short: "ns", long: "iterations size random-source"}
	c.is(gatehouse.ClassIrreversible, riskIrreversible, "shred: destroys the contents of files beyond recovery")
	for _, t := range devices(c, f) {
		c.target(t)
		if isDevice(t) {
			c.is(gatehouse.ClassIrreversible, riskMax, "shred: destroys the device %s", t)
		}
	}
}

func truncateRule(c *call) {
	f := flags{short: "sr", long: "size reference"}
	_, ops := f.scan(c.args)
	c.is(gatehouse.ClassDestructive, riskDestructive, "truncate: cuts files to a size, losing what is beyond it")
	c.target(vals(pick(c.args, ops))...)
}

// destination returns the file or directory that cp, mv, install or ln
// write to: -t DIR, or the last operand.
func destination(c *call, f flags) (string, []string) {
	opts, ops := f.scan(c.args)
	operands := vals(pick(c.args, ops))
	if t, ok := value(opts, "-t", "--target-directory"); ok {
		return t, operands
	}
	if len(operands) < 2 {
		return "", operands
	}
	return operands[len(operands)-1], operands
}

var copyFlags = flags{short: "tS", long: "target-directory suffix"}

func cpRule(c *call) {
	dst, _ := destination(c, copyFlags)
	c.target(dst)
	if isDevice(dst) {
		c.is(gatehouse.ClassIrreversible, riskMax, "%s: overwrites the device %s", c.name, dst)
		return
	}
	risk := riskWrite
	if sensitive(dst) {
		risk = 50
	}
	c.is(gatehouse.ClassWrite, risk, "%s: copies files (overwriting any at the destination)", c.name)
}

func mvRule(c *call) {
	dst, operands := destination(c, copyFlags)
	c.target(operands...)
	c.target(dst)
	if isDevice(dst) {
		c.is(gatehouse.ClassIrreversible, riskMax, "mv: overwrites the device %s", dst)
		return
	}
	for _, o := range operands {
		if catastrophic(o) != "" && o != dst {
			c.is(gatehouse.ClassDestructive, riskHigh, "mv: moves %s away", catastrophic(o))
		}
	}
	risk := riskWrite
	if sensitive(dst) {
		risk = 50
	}
	c.is(gatehouse.ClassWrite, risk, "mv: moves or renames files (overwriting any at the destination)")
}

// permRule handles chmod, chown and chgrp.
func permRule(c *call) {
	f := flags{long: "reference from"}
	opts, ops := f.scan(c.args)
	recursive := has(opts, "-R", "--recursive")
	operands := pick(c.args, ops)
	// chmod's mode may itself start with '-' (chmod -x FILE), in which
	// case every operand is a file.
	dashMode := false
	for _, o := range opts {
		if len(o.name) == 2 && strings.IndexByte("rwxXst", o.name[1]) >= 0 {
			dashMode = true
		}
	}
	mode := ""
	if _, ref := value(opts, "--reference"); !ref && !(c.name == "chmod" && dashMode) && len(operands) > 0 {
		mode = operands[0].val
		operands = operands[1:]
	}
	paths := vals(operands)
	c.target(paths...)
	what := map[string]string{"chmod": "permissions", "chown": "owner", "chgrp": "group"}[c.name]
	if recursive {
		c.is(gatehouse.ClassDestructive, riskDestructive, "%s -R: changes the %s of every file in a tree, which cannot be undone file by file", c.name, what)
	} else {
		c.is(gatehouse.ClassWrite, riskWrite, "%s: changes the %s of files", c.name, what)
	}
	for _, p := range paths {
		w := catastrophic(p)
		if w != "" && !strings.HasSuffix(w, "(.)") && (recursive || strings.HasPrefix(w, "the whole filesystem")) {
			c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s: changes the %s of %s", c.name, what, w)
		}
	}
	if c.name == "chmod" && mode != "" {
		if strings.Contains(mode, "777") || strings.Contains(mode, "o+w") || strings.Contains(mode, "a+w") {
			c.is(c.class, c.risk+15, "chmod %s: makes files writable by everyone", mode)
		}
		if strings.Contains(mode, "+s") || len(mode) == 4 && (mode[0] == '4' || mode[0] == '2' || mode[0] == '6') {
			c.is(c.class, c.risk+15, "chmod %s: sets the setuid or setgid bit", mode)
		}
	}
}

func teeRule(c *call) {
	opts, ops := flags{}.scan(c.args)
	appending := has(opts, "-a", "--append")
	how := "tee"
	if appending {
		how = "tee -a"
	}
	for _, i := range ops {
		if e, ok := fileEffect(c.args[i].val, how, appending); ok {
			c.is(e.class, e.risk, "%s", e.reason)
			c.target(e.target)
		}
	}
	if c.class == "" {
		c.is(gatehouse.ClassRead, riskRead, "tee: copies its input to standard output")
	}
	c.out = c.x.in
}

func tarRule(c *call) {
	letters := ""
	if len(c.args) > 0 && !strings.HasPrefix(c.args[0].val, "-") && !c.args[0].dyn {
		// Old style: tar xzf FILE.
		letters = c.args[0].val
	}
	opts, _ := flags{short: "fCbHIKLNTVXg", long: "file directory exclude files-from exclude-from use-compress-program transform to-command"}.scan(c.args)
	for _, o := range opts {
		if len(o.name) == 2 {
			letters += o.name[1:]
		}
	}
	switch {
	case has(opts, "--list") || strings.ContainsRune(letters, 't') && !strings.ContainsAny(letters, "xcruA"):
		c.is(gatehouse.ClassRead, riskRead, "tar -t: lists an archive")
	case has(opts, "--extract", "--get") || strings.ContainsRune(letters, 'x'):
		c.is(gatehouse.ClassWrite, riskWrite, "tar -x: extracts files, overwriting existing ones")
		if d, ok := value(opts, "-C", "--directory"); ok {
			c.target(d)
			if catastrophic(d) != "" && !strings.HasSuffix(catastrophic(d), "(.)") {
				c.is(gatehouse.ClassWrite, 50, "tar -x: extracts into %s", catastrophic(d))
			}
		}
	case has(opts, "--delete"):
		c.is(gatehouse.ClassWrite, riskWrite, "tar --delete: removes files from an archive")
	default:
		c.is(gatehouse.ClassWrite, riskWrite, "tar: creates or updates an archive")
	}
	if f, ok := value(opts, "-f", "--file"); ok && f != "-" {
		c.target(f)
	}
	if cmd, ok := value(opts, "--to-command", "--use-compress-program", "-I"); ok {
		c.shell(cmd, "tar")
	}
}

// compressor handles gzip, bzip2, xz, zstd, lz4 and their un- forms.
func compressor(c *call) {
	f := flags{short: "S", long: "suffix"}
	opts, ops := f.scan(c.args)
	if has(opts, "-c", "--stdout", "--to-stdout", "-l", "--list", "-t", "--test") || len(ops) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "%s: writes to standard output", c.name)
		c.out = c.x.in
		return
	}
	c.is(gatehouse.ClassWrite, riskWrite, "%s: replaces files with their (de)compressed form", c.name)
	c.target(vals(pick(c.args, ops))...)
}

func sedRule(c *call) {
	f := flags{short: "efl", long: "expression file line-length"}
	opts, ops := f.scan(c.args)
	if !has(opts, "-i", "--in-place") {
		c.is(gatehouse.ClassRead, riskRead, "sed: reads only")
		c.out = c.x.in
		return
	}
	c.is(gatehouse.ClassWrite, riskWrite, "sed -i: edits files in place")
	if _, script := value(opts, "-e", "--expression", "-f", "--file"); !script && len(ops) > 0 {
		ops = ops[1:]
	}
	c.target(vals(pick(c.args, ops))...)
}

func awkRule(c *call) {
	f := flags{short: "fvFEi", long: "file assign field-separator exec include load"}
	opts, ops := f.scan(c.args)
	if v, ok := value(opts, "-i", "--include"); ok && v == "inplace" {
		c.is(gatehouse.ClassWrite, riskWrite, "%s -i inplace: edits files in place", c.name)
	}
	if p, ok := value(opts, "-f", "--file", "-E", "--exec"); ok {
		c.is(gatehouse.ClassWrite, riskUnknown, "%s -f: runs the program %s, which analysis cannot see", c.name, p)
		return
	}
	if len(ops) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "%s: reads only", c.name)
		return
	}
	prog := c.args[ops[0]].val
	switch {
	case strings.Contains(prog, "system(") || strings.Contains(strings.ReplaceAll(prog, "||", ""), "|"):
		c.is(gatehouse.ClassWrite, riskUnknown, "%s: the program runs commands", c.name)
	case awkRedirects(prog):
		c.is(gatehouse.ClassWrite, riskWrite, "%s: the program writes files", c.name)
	default:
		c.is(gatehouse.ClassRead, riskRead, "%s: reads only", c.name)
		c.out = c.x.in
	}
}

// awkRedirects reports whether an awk program has print … > file.
func awkRedirects(prog string) bool {
	for {
		i := strings.Index(prog, "print")
		if i < 0 {
			return false
		}
		prog = prog[i+5:]
		end := strings.IndexAny(prog, ";}\n")
		if end < 0 {
			end = len(prog)
		}
		if strings.Contains(prog[:end], ">") {
			return true
		}
	}
}
