package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// conformanceSuite finds the MCP conformance suite (its package directory)
// and the Node.js 22 it runs on, both from .ci/run.
func conformanceSuite(t *testing.T) (node, suite string) {
	node = installed(t, "GATEHOUSE_NODE22", "Node.js 22")
	suite = installed(t, "GATEHOUSE_MCP_CONFORMANCE", "the MCP conformance suite")
	return node, suite
}

// startProcess starts cmd with its output in FILE.log under dir, stops it
// when the test ends, and waits until addr accepts connections.
func startProcess(t *testing.T, cmd *exec.Cmd, dir, name, addr string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log:\n%s", name, b)
		}
	})
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("%s exited before listening:\n%s", name, b)
		default:
		}
		if i > 1500 {
			t.Fatalf("%s not listening at %s", name, addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scenarios lists the suite's server scenarios.
func scenarios(t *testing.T, node, suite string) []string {
	out, err := exec.Command(node, filepath.Join(suite, "dist", "index.js"), "list", "--server").Output()
	if err != nil {
		t.Fatalf("conformance list: %v", err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s*-\s+(\S+)`).FindAllStringSubmatch(string(out), -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Fatalf("conformance list: no server scenarios in\n%s", out)
	}
	return names
}

// resultDir is the name the suite gives a scenario's results.
var resultDir = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$`)

// runConformance runs every server scenario (the "all" suite) against url,
// keeping the results in out, and returns, for each scenario, the checks
// that failed (none: it passed). A scenario without results failed.
func runConformance(t *testing.T, node, suite, url, out string, names []string) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(suite, "dist", "index.js"), "server", "--url", url, "--suite", "all", "-o", out)
	text, err := cmd.CombinedOutput()
	_ = os.WriteFile(out+".txt", text, 0o644)
	if ctx.Err() != nil {
		t.Fatalf("conformance against %s did not finish: %v\n%s", url, err, text)
	}
	// It exits non-zero when any scenario fails; the results say which.
	failed := map[string][]string{}
	for _, n := range names {
		failed[n] = []string{"no results"}
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatalf("conformance against %s: %v\n%s", url, err, text)
	}
	for _, e := range ents {
		m := resultDir.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(out, e.Name(), "checks.json"))
		if err != nil {
			continue
		}
		var checks []struct {
			ID, Status, ErrorMessage string
		}
		if err := json.Unmarshal(b, &checks); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		var bad []string
		for _, c := range checks {
			if c.Status == "FAILURE" {
				bad = append(bad, c.ID+": "+c.ErrorMessage)
			}
		}
		failed[m[1]] = bad
	}
	return failed
}

func passing(results map[string][]string) (pass, fail []string) {
	for n, bad := range results {
		if len(bad) == 0 {
			pass = append(pass, n)
		} else {
			fail = append(fail, n)
		}
	}
	slices.Sort(pass)
	slices.Sort(fail)
	return pass, fail
}

// conformanceUpstream is a server the suite runs against, alone and
// through the proxy.
type conformanceUpstream struct {
	name  string // as the proxy names it (--name)
	start func(t *testing.T, dir, addr string) *exec.Cmd
	// tools that the suite's calls must have journaled, and how they ended
	journaled map[string]string
	// scenarios that must pass alone (a check that the suite ran at all)
	mustPass int
}

// The MCP conformance suite (every server scenario) against an upstream
// alone, then through `gatehouse mcp proxy --url … --listen …` under a
// real daemon: every scenario that passes alone must pass through the
// proxy, and every tools/call must have been journaled as an action.
//
// The upstreams are the reference server-everything (npm) in its
// streamableHttp mode, and the Go SDK's own conformance server
// (conformance/everything-server in the go-sdk module), which has the
// tools, resources and prompts the scenarios ask for, so that progress,
// logging, sampling, elicitation and completions are exercised too.
func TestMCPConformance(t *testing.T) {
	mods := nodeModules(t)
	node22, suite := conformanceSuite(t)
	names := scenarios(t, node22, suite)
	upstreams := []conformanceUpstream{{
		name: "everything",
		start: func(t *testing.T, dir, addr string) *exec.Cmd {
			_, port, _ := net.SplitHostPort(addr)
			cmd := exec.Command("node", filepath.Join(mods, "@modelcontextprotocol", "server-everything", "dist", "index.js"), "streamableHttp")
			cmd.Env = append(os.Environ(), "PORT="+port)
			return cmd
		},
		// server-everything has none of the suite's tools: its answer is
		// a tool error, journaled as a failure.
		journaled: map[string]string{"test_simple_text": "failed", "test_error_handling": "failed"},
		mustPass:  10,
	}, {
		name: "gosdk",
		start: func(t *testing.T, dir, addr string) *exec.Cmd {
			bin := filepath.Join(dir, "everything-server")
			build := exec.Command("go", "build", "-o", bin, "github.com/modelcontextprotocol/go-sdk/conformance/everything-server")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build everything-server: %v\n%s", err, out)
			}
			return exec.Command(bin, "-http", addr, "-stateless=false")
		},
		journaled: map[string]string{"test_simple_text": "succeeded", "test_tool_with_progress": "succeeded",
			"test_tool_with_logging": "succeeded", "test_sampling": "succeeded", "test_elicitation": "succeeded", "test_error_handling": "failed"},
		mustPass: len(names),
	}}
	for _, up := range upstreams {
		t.Run(up.name, func(t *testing.T) { conformanceThroughProxy(t, node22, suite, names, up) })
	}
}

func conformanceThroughProxy(t *testing.T, node22, suite string, names []string, up conformanceUpstream) {
	// Allow every call. The suite calls tools that server-everything does
	// not have, and each such call fails upstream: ten failures in a row
	// would pause the session (the failures tripwire), as they should.
	e := setup(t, "version: 1\ndefault: allow\ntripwires:\n  failures: off\n")
	art := t.ArtifactDir()

	upAddr := freeAddr(t)
	startProcess(t, up.start(t, t.TempDir(), upAddr), art, "upstream", upAddr)
	upURL := "http://" + upAddr + "/mcp"
	alone := runConformance(t, node22, suite, upURL, filepath.Join(art, "alone"), names)

	pAddr := freeAddr(t)
	proxy := exec.Command(e.bin, "mcp", "proxy", "--name", up.name, "--session", "conformance", "--url", upURL, "--listen", pAddr)
	proxy.Env = append(os.Environ(), "GATEHOUSE_URL="+e.url, "GATEHOUSE_TOKEN="+e.token)
	startProcess(t, proxy, art, "proxy", pAddr)
	proxied := runConformance(t, node22, suite, "http://"+pAddr+"/mcp", filepath.Join(art, "proxied"), names)

	alonePass, aloneFail := passing(alone)
	proxiedPass, proxiedFail := passing(proxied)
	summary := fmt.Sprintf("%s alone: %d of %d pass: %s\n  failing alone: %s\nthrough the proxy: %d of %d pass: %s\n  failing through the proxy: %s\n",
		up.name, len(alonePass), len(names), strings.Join(alonePass, " "), strings.Join(aloneFail, " "),
		len(proxiedPass), len(names), strings.Join(proxiedPass, " "), strings.Join(proxiedFail, " "))
	t.Log(summary)
	_ = os.WriteFile(filepath.Join(art, "summary.txt"), []byte(summary), 0o644)
	if len(alonePass) < up.mustPass {
		t.Fatalf("%d scenarios pass against %s alone, want at least %d: the suite did not run as it should", len(alonePass), up.name, up.mustPass)
	}
	for _, n := range alonePass {
		if bad := proxied[n]; len(bad) > 0 {
			t.Errorf("%s passes alone but not through the proxy: %s", n, strings.Join(bad, "; "))
		}
	}
	for _, n := range aloneFail {
		t.Logf("%s fails alone (not required): %s", n, strings.Join(alone[n], "; "))
	}

	// Every tools/call through the proxy was an action, decided and
	// journaled with the upstream's answer.
	log := e.gh("log", "-o", "jsonl")
	status := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var a struct {
			Command, System, Status, Kind, Response, Error string
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		// A call the upstream answered has its answer; one it did not (it
		// closed the stream) has the error.
		if a.Kind != "mcp_tool" || a.System != up.name || (a.Response == "" && a.Error == "") {
			t.Errorf("journaled: %+v, want an mcp_tool action of system %s with its response or error", a, up.name)
		}
		status[strings.TrimPrefix(a.Command, "mcp__"+up.name+"__")] = a.Status
	}
	for tool, want := range up.journaled {
		if status[tool] != want {
			t.Errorf("journal: %s %q, want %q (all: %v)", tool, status[tool], want, status)
		}
	}
}
