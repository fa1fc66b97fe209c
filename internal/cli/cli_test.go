package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/cli"
	"github.com/gatehouse-dev/gatehouse/internal/postgres/pgtest"
)

var update = flag.Bool("u", false, "update testscript golden output")

func TestMain(m *testing.M) {
	// Both names run the same function, as the one binary does: what
	// tells them apart is cli.Args, from the program's name.
	main := func() { os.Exit(cli.Main(context.Background(), cli.OSEnv(), cli.Args(os.Args))) }
	testscript.Main(m, map[string]func(){
		"gatehouse":    main,
		"gatehouse-sh": main,
		"mcpecho":      mcpEcho,
	})
}

// mcpecho NAME LOG: a stdio MCP server with one tool, echo, which answers
// "NAME: TEXT" and appends "echo TEXT" to the file LOG, so that a script
// sees what reached it: an upstream for the daemon to start.
func mcpEcho() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mcpecho NAME LOG")
		os.Exit(2)
	}
	name, logPath := os.Args[1], os.Args[2]
	type in struct {
		Text string `json:"text"`
	}
	s := sdk.NewServer(&sdk.Implementation{Name: "mcpecho-" + name, Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "echo", Description: "echo"}, func(_ context.Context, _ *sdk.CallToolRequest, in in) (*sdk.CallToolResult, any, error) {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintln(f, "echo "+in.Text)
		f.Close()
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: name + ": " + in.Text}}}, nil, nil
	})
	fmt.Fprintln(os.Stderr, "mcpecho "+name+" serving")
	if err := s.Run(context.Background(), &sdk.StdioTransport{}); err != nil {
		fmt.Fprintln(os.Stderr, "mcpecho:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestScripts runs testdata/script/*.txtar: the real CLI against a real
// daemon on a free loopback port, with a state directory in $WORK/state.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Condition:     condition,
		Setup: func(env *testscript.Env) error {
			env.Setenv("GATEHOUSE_STATE", filepath.Join(env.WorkDir, "state"))
			env.Setenv("GATEHOUSE_URL", "http://127.0.0.1:1") // until gatehoused start
			env.Setenv("GATEHOUSE_TOKEN", "")
			env.Setenv("GATEHOUSE_SESSION", "")
			env.Setenv("GATEHOUSE_MODEL", "")
			env.Values[daemonKey{}] = &daemonSlot{}
			return nil
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"gatehoused":  cmdDaemon,
			"sqlexec":     cmdSQLExec,
			"jsonenv":     cmdJSONEnv,
			"httpreq":     cmdHTTP,
			"waitfile":    cmdWaitFile,
			"perm":        cmdPerm,
			"pidgone":     cmdPidGone,
			"waitpending": cmdWaitPending,
			"waitlog":     cmdWaitLog,
			"mcpsession":  cmdMCPSession,
			"rechain":     cmdRechain,
			"pgdb":        cmdPGDB,
			"pgsql":       cmdPGSQL,
		},
	})
}

type daemonProc struct {
	cmd  *exec.Cmd
	done chan error
}

// gatehoused start [serve flags...] | stop | kill | hup
//
// start runs `gatehouse serve` as a child process on a free port with the
// script's environment, waits for /healthz and sets GATEHOUSE_URL; its log
// goes to $WORK/daemon.log. stop sends SIGTERM and requires a clean exit;
// kill sends SIGKILL, as a crash would; hup sends SIGHUP.
func cmdDaemon(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: gatehoused start|stop|kill")
	}
	slot := ts.Value(daemonKey{}).(*daemonSlot)
	d := slot.d
	switch args[0] {
	case "start":
		if d != nil {
			ts.Fatalf("daemon already running")
		}
		port := slot.port
		if port == 0 {
			port = freePort(ts)
			slot.port = port
		}
		bin, err := exec.LookPath("gatehouse")
		if err != nil {
			// testscript puts registered commands on the script's PATH.
			bin = lookIn(ts.Getenv("PATH"), "gatehouse")
		}
		if bin == "" {
			ts.Fatalf("gatehouse not found on PATH")
		}
		logf, err := os.OpenFile(ts.MkAbs("daemon.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		ts.Check(err)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		flags := args[1:]
		// Scripts about the core run under a policy that allows
		// everything; scripts about policy name theirs (or
		// -default-policy for the one written on first start).
		switch {
		case slices.Contains(flags, "-default-policy"):
			flags = slices.DeleteFunc(slices.Clone(flags), func(f string) bool { return f == "-default-policy" })
		case !slices.Contains(flags, "--policy"):
			allowAll := ts.MkAbs(".allow-all.yaml")
			ts.Check(os.WriteFile(allowAll, []byte(allowAllPolicy), 0o600))
			flags = append(flags, "--policy", allowAll)
		}
		cmd := exec.Command(bin, append([]string{"serve", "--listen", addr}, flags...)...)
		cmd.Dir = ts.Getenv("WORK")
		cmd.Env = scriptEnv(ts)
		cmd.Stdout, cmd.Stderr = logf, logf
		ts.Check(cmd.Start())
		d = &daemonProc{cmd: cmd, done: make(chan error, 1)}
		go func() { d.done <- cmd.Wait(); logf.Close() }()
		ts.Defer(func() {
			if d.cmd.ProcessState == nil {
				_ = d.cmd.Process.Kill()
				<-d.done
			}
		})
		url := "http://" + addr
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(url + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			select {
			case err := <-d.done:
				b, _ := os.ReadFile(ts.MkAbs("daemon.log"))
				if neg {
					ts.Setenv("GATEHOUSE_URL", url)
					return
				}
				ts.Fatalf("daemon exited before it was ready: %v\n%s", err, b)
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				ts.Fatalf("daemon not ready after 30s")
			}
		}
		if neg {
			ts.Fatalf("daemon started, but was expected to fail")
		}
		ts.Setenv("GATEHOUSE_URL", url)
		ts.Setenv("GATEHOUSE_ADDR", addr)
		slot.d = d
	case "stop", "kill":
		if d == nil {
			ts.Fatalf("no daemon running")
		}
		sig := syscall.SIGTERM
		if args[0] == "kill" {
			sig = syscall.SIGKILL
		}
		ts.Check(d.cmd.Process.Signal(sig))
		var err error
		select {
		case err = <-d.done:
		case <-time.After(60 * time.Second):
			ts.Fatalf("daemon did not exit within 60s of %v", sig)
		}
		slot.d = nil
		if args[0] == "stop" && (err != nil) != neg {
			ts.Fatalf("daemon exit after SIGTERM: %v", err)
		}
	case "hup":
		if d == nil {
			ts.Fatalf("no daemon running")
		}
		ts.Check(d.cmd.Process.Signal(syscall.SIGHUP))
	default:
		ts.Fatalf("usage: gatehoused start|stop|kill|hup")
	}
}

const allowAllPolicy = `version: 1
default: allow
`

// daemonKey keys the script's daemonSlot in testscript's per-script
// values: the daemon a script started, if any.
type daemonKey struct{}

type daemonSlot struct {
	d    *daemonProc
	port int // reused by the next start, so clients find a restarted daemon
}

func freePort(ts *testscript.TestScript) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func lookIn(path, name string) string {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

func scriptEnv(ts *testscript.TestScript) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GATEHOUSE_STATE", "GOCOVERDIR"} {
		env = append(env, k+"="+ts.Getenv(k))
	}
	return env
}

// sqlexec FILE SQL: run SQL against a SQLite file directly — how a test
// tampers with the journal behind the daemon's back.
func cmdSQLExec(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: sqlexec FILE SQL")
	}
	db, err := sql.Open("sqlite", "file:"+ts.MkAbs(args[0])+"?_pragma=busy_timeout(10000)")
	ts.Check(err)
	defer db.Close()
	res, err := db.Exec(args[1])
	if (err != nil) != neg {
		ts.Fatalf("sqlexec: %v", err)
	}
	if err == nil {
		n, _ := res.RowsAffected()
		fmt.Fprintf(ts.Stdout(), "%d rows\n", n)
	}
}

// jsonenv VAR FILE PATH: set VAR to the value at PATH (dot-separated keys
// and array indexes, e.g. 0.id) of the JSON in FILE.
func cmdJSONEnv(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: jsonenv VAR FILE PATH")
	}
	var v any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &v))
	for _, k := range strings.Split(args[2], ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("jsonenv: no index %s in an array of %d", k, len(x))
			}
			v = x[i]
		default:
			ts.Fatalf("jsonenv: %s: not an object or array", k)
		}
	}
	switch x := v.(type) {
	case string:
		ts.Setenv(args[0], x)
	case nil:
		ts.Fatalf("jsonenv: %s not found", args[2])
	default:
		b, _ := json.Marshal(x)
		ts.Setenv(args[0], string(b))
	}
}

// httpreq [-t TOKEN] METHOD PATH [BODYFILE]: a raw request to the daemon;
// prints the status code, then the body. Without -t it sends
// $GATEHOUSE_TOKEN, or the admin token if that is empty.
func cmdHTTP(ts *testscript.TestScript, neg bool, args []string) {
	token := ts.Getenv("GATEHOUSE_TOKEN")
	if token == "" {
		b, _ := os.ReadFile(filepath.Join(ts.Getenv("GATEHOUSE_STATE"), "admin.token"))
		token = strings.TrimSpace(string(b))
	}
	if len(args) > 2 && args[0] == "-t" {
		token, args = args[1], args[2:]
	}
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: httpreq [-t TOKEN] METHOD PATH [BODYFILE]")
	}
	var body io.Reader
	if len(args) == 3 {
		body = bytes.NewReader([]byte(ts.ReadFile(args[2])))
	}
	req, err := http.NewRequest(args[0], ts.Getenv("GATEHOUSE_URL")+args[1], body)
	ts.Check(err)
	if token != "-" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%d\n%s", resp.StatusCode, b)
	if (resp.StatusCode/100 != 2) != neg {
		ts.Fatalf("status %d", resp.StatusCode)
	}
}

// waitfile FILE: wait (up to 30s) until FILE exists and is not empty — how a script knows
// that a background command has got going.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Not empty: `echo $$ > FILE` creates the file before it writes it.
		if fi, err := os.Stat(ts.MkAbs(args[0])); err == nil && fi.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear (with content) within 30s", args[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// perm FILE MODE: FILE's permission bits are MODE (octal).
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm FILE MODE")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	if got := uint64(fi.Mode().Perm()); (got == want) == neg {
		ts.Fatalf("%s: mode %o, want %o", args[0], got, want)
	}
}

// pidgone FILE: the process whose pid is in FILE no longer exists (waits
// up to 30s for it to go).
func cmdPidGone(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: pidgone FILE")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(args[0])))
	ts.Check(err)
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			ts.Fatalf("process %d still exists", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitpending N: wait (up to 30s) until N actions wait for review, and set
// $PENDING to the newest one's id.
func cmdWaitPending(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitpending N")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	b, _ := os.ReadFile(filepath.Join(ts.Getenv("GATEHOUSE_STATE"), "admin.token"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("GET", ts.Getenv("GATEHOUSE_URL")+"/v1/pending", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(b)))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			var list []struct {
				ID string `json:"id"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			if len(list) == n {
				if n > 0 {
					ts.Setenv("PENDING", list[n-1].ID)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%d actions did not come to wait for review within 30s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitlog N REGEXP: wait (up to 30s) until daemon.log has at least N lines
// matching REGEXP — how a script knows the daemon did something by itself
// (reloaded its policy).
func cmdWaitLog(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: waitlog N REGEXP")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(ts.MkAbs("daemon.log"))
		if len(re.FindAllIndex(b, -1)) >= n {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("daemon.log: fewer than %d lines matching %q within 30s", n, args[1])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mcpsession FILE ARGS...: run `gatehouse mcp ARGS...` and play FILE to it,
// a JSON-RPC message a line: each request (a line with an id) is sent only
// once the answer to the one before has come, as a real client would; the
// answers go to stdout, one a line.
func cmdMCPSession(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: mcpsession FILE [ARGS...]")
	}
	bin := lookIn(ts.Getenv("PATH"), "gatehouse")
	cmd := exec.Command(bin, append([]string{"mcp"}, args[1:]...)...)
	// The upstream of a proxy is started by name through PATH.
	cmd.Env = append(scriptEnv(ts), "GATEHOUSE_URL="+ts.Getenv("GATEHOUSE_URL"), "GATEHOUSE_TOKEN="+ts.Getenv("GATEHOUSE_TOKEN"))
	cmd.Dir = ts.Getenv("WORK")
	in, err := cmd.StdinPipe()
	ts.Check(err)
	outPipe, err := cmd.StdoutPipe()
	ts.Check(err)
	ts.Check(cmd.Start())
	lines := bufio.NewScanner(outPipe)
	lines.Buffer(make([]byte, 1<<20), 16<<20)
	for _, line := range strings.Split(strings.TrimSpace(ts.ReadFile(args[0])), "\n") {
		if _, err := io.WriteString(in, line+"\n"); err != nil {
			ts.Fatalf("mcpsession: %v", err)
		}
		var msg struct {
			ID any `json:"id"`
		}
		_ = json.Unmarshal([]byte(line), &msg)
		if msg.ID == nil {
			continue // a notification: no answer
		}
		for {
			if !lines.Scan() {
				ts.Fatalf("mcpsession: the server closed before answering %s", line)
			}
			fmt.Fprintln(ts.Stdout(), lines.Text())
			var resp struct {
				ID any `json:"id"`
			}
			if json.Unmarshal(lines.Bytes(), &resp) == nil && fmt.Sprint(resp.ID) == fmt.Sprint(msg.ID) {
				break
			}
		}
	}
	in.Close()
	if err := cmd.Wait(); (err != nil) != neg {
		ts.Fatalf("gatehouse mcp: %v", err)
	}
}

// rechain FILE SEQ OLD NEW: rewrite the journal in a SQLite file as an
// attacker with write access and the source code could: replace OLD with
// NEW in the data of event SEQ, re-hash the whole chain from its first
// event so that every link holds, and rewrite the projection of the action
// the event belongs to so that it matches. Plain verify then finds nothing
// wrong; only a checkpoint kept elsewhere can.
func cmdRechain(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: rechain FILE SEQ OLD NEW")
	}
	seq, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	db, err := sql.Open("sqlite", "file:"+ts.MkAbs(args[0])+"?_pragma=busy_timeout(10000)")
	ts.Check(err)
	defer db.Close()
	rows, err := db.Query("SELECT seq, time, type, subject, data FROM events ORDER BY seq")
	ts.Check(err)
	var evs []gatehouse.Event
	for rows.Next() {
		var e gatehouse.Event
		var t int64
		var typ string
		ts.Check(rows.Scan(&e.Seq, &t, &typ, &e.Subject, &e.Data))
		e.Time, e.Type = time.Unix(0, t).UTC(), gatehouse.EventType(typ)
		evs = append(evs, e)
	}
	ts.Check(rows.Err())
	rows.Close()
	var subject string
	var chain gatehouse.Chain
	tx, err := db.Begin()
	ts.Check(err)
	for i, e := range evs {
		if e.Seq == seq {
			if !strings.Contains(string(e.Data), args[2]) {
				ts.Fatalf("rechain: event %d does not contain %q", seq, args[2])
			}
			e.Data = []byte(strings.ReplaceAll(string(e.Data), args[2], args[3]))
			subject = e.Subject
		}
		e = chain.Link(gatehouse.Event{Time: e.Time, Type: e.Type, Subject: e.Subject, Data: e.Data})
		evs[i] = e
		_, err := tx.Exec("UPDATE events SET data = ?, prev_hash = ?, hash = ? WHERE seq = ?", []byte(e.Data), e.PrevHash, e.Hash, e.Seq)
		ts.Check(err)
	}
	if subject == "" {
		ts.Fatalf("rechain: no event %d", seq)
	}
	var a gatehouse.Action
	for _, e := range evs {
		if e.Type.IsAction() && e.Subject == subject {
			ts.Check(a.Apply(e))
		}
	}
	if a.ID != "" {
		doc, err := json.Marshal(&a)
		ts.Check(err)
		// The whole action in doc, outputs NULL: the layout of rows older
		// than schema version 6, which readers take as well.
		_, err = tx.Exec("UPDATE actions SET command = ?, intent = ?, status = ?, doc = ?, outputs = NULL WHERE id = ?", a.Command, a.Intent, string(a.Status), doc, a.ID)
		ts.Check(err)
	}
	ts.Check(tx.Commit())
	fmt.Fprintf(ts.Stdout(), "rewrote %d events\n", len(evs))
}

// condition answers the scripts' custom conditions: [pg] holds when
// there is a PostgreSQL server for tests ($GATEHOUSE_TEST_POSTGRES); under
// CI its absence is an error, so that scripts which need one cannot skip
// there.
func condition(cond string) (bool, error) {
	switch cond {
	case "pg":
		if os.Getenv(pgtest.EnvVar) != "" {
			return true, nil
		}
		if os.Getenv("CI") != "" {
			return false, fmt.Errorf("%s is not set: .ci/run starts a PostgreSQL server and names it there", pgtest.EnvVar)
		}
		return false, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

// pgdb VAR: create a new PostgreSQL database on the test server (dropped
// when the script ends) and set VAR to its URL. Scripts that use it begin
// with [!pg] skip.
func cmdPGDB(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: pgdb VAR")
	}
	u, drop, err := pgtest.Create(context.Background(), os.Getenv(pgtest.EnvVar))
	ts.Check(err)
	ts.Defer(drop)
	ts.Setenv(args[0], u)
}

// pgsql URL SQL: run SQL against a PostgreSQL database directly — how a
// script tampers with a journal there.
func cmdPGSQL(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: pgsql URL SQL")
	}
	n, err := pgtest.ExecContext(context.Background(), args[0], args[1])
	if (err != nil) != neg {
		ts.Fatalf("pgsql: %v", err)
	}
	if err == nil {
		fmt.Fprintf(ts.Stdout(), "%d rows\n", n)
	}
}
