package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/shell"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

const ghToken = "ghp_Zx81-real-looking-token-value"

type credFixture struct {
	gw      *gateway.Gateway
	store   *sqlite.Store
	keys    *seal.Keyring
	dir     string
	admin   gatehouse.Principal
	ci, dev gatehouse.Principal
}

var testGrants = []gatehouse.Grant{
	{Secret: "GITHUB_TOKEN", Env: "GH_TOKEN", Agents: []string{"ci"}, Systems: []string{"github"}},
	{Secret: "NPM_TOKEN", Env: "NPM_TOKEN", Agents: []string{"dev"}, Systems: []string{"npm"}},
}

// newCredFixture is a gateway over a real store, a real key file and the
// real executor, with testGrants in force, and agents ci and dev. With a
// policy (YAML), it decides by it.
func newCredFixture(t *testing.T, policyYAML string) *credFixture {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keys, _, err := seal.LoadOrCreate(filepath.Join(dir, seal.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	f := &credFixture{store: store, keys: keys, dir: dir}
	f.gw = f.newGateway(policyYAML, testGrants)
	ctx := context.Background()
	f.admin, _ = f.gw.Authenticate(ctx, "gadm_test")
	for _, name := range []string{"ci", "dev"} {
		_, tok, err := f.gw.AddAgent(ctx, f.admin, name)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := f.gw.Authenticate(ctx, tok)
		if name == "ci" {
			f.ci = p
		} else {
			f.dev = p
		}
	}
	return f
}

func (f *credFixture) newGateway(policyYAML string, grants []gatehouse.Grant) *gateway.Gateway {
	opts := gateway.Options{AdminToken: "gadm_test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Credentials: gateway.Credentials{Store: f.store, Sealer: f.keys, Grants: grants}}
	if policyYAML != "" {
		z := gateway.Analyzers{Shell: shell.Analyze, Argv: shell.AnalyzeArgv}
		p, err := policy.Parse([]byte(policyYAML), policy.Options{Analyze: z.Shell})
		if err != nil {
			panic(err)
		}
		l := policy.NewLearned()
		opts.Learned, opts.Decider = l, gateway.NewPolicyDecider(p, l, z, nil)
	}
	return gateway.New(f.store, executor.New(executor.Config{KillGrace: 200 * time.Millisecond}),
		gateway.Config{BaseEnv: map[string]string{"PATH": os.Getenv("PATH"), "GH_TOKEN": "daemon-value"}, EnvAllow: []string{"GH_TOKEN"}}, opts)
}

func (f *credFixture) run(t *testing.T, p gatehouse.Principal, system, script string) (*gatehouse.Action, string) {
	t.Helper()
	var out bytes.Buffer
	var mu sync.Mutex
	a, err := f.gw.Run(context.Background(), p, gatehouse.RunRequest{Shell: true, Command: script, System: system, Cwd: f.dir},
		gateway.Sink{Stdout: lockedWriter{&mu, &out}, Stderr: lockedWriter{&mu, &out}})
	if err != nil {
		t.Fatalf("Run(%q): %v", script, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return a, out.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestSetSecretValidation(t *testing.T) {
	f := newCredFixture(t, "")
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		p     gatehouse.Principal
		sec   string
		value string
		code  string
		want  string
	}{
		{"agents may not", f.ci, "T", ghToken, gatehouse.EFORBIDDEN, "admin token"},
		{"bad name", f.admin, "a b", ghToken, gatehouse.EINVALID, "invalid secret name"},
		{"too short to redact", f.admin, "T", "1234567", gatehouse.EINVALID, "at least 8 are needed"},
		{"NUL", f.admin, "T", "abcdefgh\x00ijk", gatehouse.EINVALID, "NUL byte"},
		{"too long", f.admin, "T", strings.Repeat("x", gateway.MaxSecretSize+1), gatehouse.EINVALID, "over 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.gw.SetSecret(ctx, tc.p, tc.sec, []byte(tc.value))
			if gatehouse.ErrorCode(err) != tc.code || !strings.Contains(gatehouse.ErrorMessage(err), tc.want) {
				t.Errorf("SetSecret = %v, want %s %q", err, tc.code, tc.want)
			}
		})
	}
	if list, err := f.gw.Secrets(ctx, f.admin); err != nil || len(list) != 0 {
		t.Errorf("Secrets = %v, %v; want none set", list, err)
	}
}

// The granted action's process gets the value; its output, streamed and
// stored, has the marker; the journal never has the value, in any of the
// encodings redaction knows.
func TestCredentialInjected(t *testing.T) {
	f := newCredFixture(t, "")
	ctx := context.Background()
	sec, err := f.gw.SetSecret(ctx, f.admin, "GITHUB_TOKEN", []byte(ghToken))
	if err != nil {
		t.Fatal(err)
	}
	if sec.Name != "GITHUB_TOKEN" || sec.KeyID != f.keys.KeyID() || sec.Ciphertext != nil {
		t.Errorf("SetSecret = %+v", sec)
	}
	sum := sha256.Sum256([]byte(ghToken))
	a, streamed := f.run(t, f.ci, "github",
		`echo "token=$GH_TOKEN"; printf %s "$GH_TOKEN" | sha256sum; printf %s "$GH_TOKEN" | base64; echo "$GH_TOKEN" >&2`)
	if a.Status != gatehouse.StatusSucceeded {
		t.Fatalf("action %s: %s", a.Status, a.Error)
	}
	wantOut := "token=[REDACTED:GITHUB_TOKEN]\n" + hex.EncodeToString(sum[:]) + "  -\n"
	if !strings.HasPrefix(a.Stdout, wantOut) {
		t.Errorf("stdout %q, want it to start %q: the process got the value, the record a marker", a.Stdout, wantOut)
	}
	if a.Stderr != "[REDACTED:GITHUB_TOKEN]\n" {
		t.Errorf("stderr %q", a.Stderr)
	}
	if strings.Contains(streamed, ghToken) || !strings.Contains(streamed, "token=[REDACTED:GITHUB_TOKEN]") {
		t.Errorf("the client was sent %q", streamed)
	}
	want := []gatehouse.CredentialRef{{Secret: "GITHUB_TOKEN", Env: "GH_TOKEN"}}
	if len(a.Credentials) != 1 || a.Credentials[0] != want[0] || len(a.Injected()) != 1 {
		t.Errorf("credentials %v, injected %v; want %v", a.Credentials, a.Injected(), want)
	}
	assertNoValue(t, f.store, ghToken)

	// Neither the client (--env, even when allowed) nor the daemon's
	// environment overrides a credential.
	var out bytes.Buffer
	a, err = f.gw.Run(ctx, f.ci, gatehouse.RunRequest{Shell: true, Command: `echo "$GH_TOKEN"`, System: "github", Cwd: f.dir,
		Env: map[string]string{"GH_TOKEN": "client-value"}}, gateway.Sink{Stdout: &out})
	if err != nil || out.String() != "[REDACTED:GITHUB_TOKEN]\n" {
		t.Errorf("with the client's GH_TOKEN: %q, %v; want the credential", out.String(), err)
	}

	// Another system, or another agent: nothing.
	for _, c := range []struct {
		p      gatehouse.Principal
		system string
	}{{f.ci, "npm"}, {f.ci, ""}, {f.dev, "github"}} {
		a, out := f.run(t, c.p, c.system, `echo "[${GH_TOKEN:-unset}]"`)
		if out != "[daemon-value]\n" || len(a.Credentials) != 0 {
			t.Errorf("%s on %q: output %q, credentials %v; want none", c.p.Name, c.system, out, a.Credentials)
		}
	}
}

// assertNoValue fails if any event holds the value, raw or encoded.
func assertNoValue(t *testing.T, s gatehouse.Store, value string) {
	t.Helper()
	forms := []string{value, base64.StdEncoding.EncodeToString([]byte(value)), hex.EncodeToString([]byte(value))}
	err := s.Events(context.Background(), 0, func(e gatehouse.Event) error {
		for _, form := range forms {
			if bytes.Contains(e.Data, []byte(strings.TrimRight(form, "="))) {
				t.Errorf("event %d (%s) holds the value: %s", e.Seq, e.Type, e.Data)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A credential that is granted but cannot be given stops the action
// before it starts.
func TestCredentialMissingFailsClosed(t *testing.T) {
	f := newCredFixture(t, "")
	marker := filepath.Join(f.dir, "ran")
	a, _ := f.run(t, f.ci, "github", "touch "+marker)
	if a.Status != gatehouse.StatusFailed || a.StartedAt != nil || !strings.Contains(a.Error, "credential GITHUB_TOKEN is granted but not set: gatehouse secret set GITHUB_TOKEN") {
		t.Errorf("action %s (started %v): %q", a.Status, a.StartedAt, a.Error)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the command ran")
	}
	if len(a.Injected()) != 0 {
		t.Errorf("Injected = %v for an action that never started", a.Injected())
	}

	// Sealed with a key the gateway no longer has: the same.
	if _, err := f.gw.SetSecret(context.Background(), f.admin, "GITHUB_TOKEN", []byte(ghToken)); err != nil {
		t.Fatal(err)
	}
	line, _ := seal.NewKeyLine()
	other, _ := seal.Parse([]byte(line), "other.key")
	gw2 := gateway.New(f.store, executor.New(executor.Config{}), gateway.Config{BaseEnv: map[string]string{"PATH": os.Getenv("PATH")}},
		gateway.Options{AdminToken: "gadm_test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Credentials: gateway.Credentials{Store: f.store, Sealer: other, Grants: testGrants}})
	a, err := gw2.Run(context.Background(), f.ci, gatehouse.RunRequest{Argv: []string{"touch", marker}, System: "github", Cwd: f.dir}, gateway.Sink{})
	if err != nil || a.Status != gatehouse.StatusFailed || !strings.Contains(a.Error, "credential GITHUB_TOKEN cannot be opened") {
		t.Errorf("with another key: %v, %v", a, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the command ran with a credential that did not open")
	}
}

// creds: what each agent holds, whether it is set, and its last use.
func TestCredentialsListing(t *testing.T) {
	f := newCredFixture(t, "")
	ctx := context.Background()
	if _, err := f.gw.SetSecret(ctx, f.admin, "GITHUB_TOKEN", []byte(ghToken)); err != nil {
		t.Fatal(err)
	}
	first, _ := f.run(t, f.ci, "github", "true")
	last, _ := f.run(t, f.ci, "github", "true")
	f.run(t, f.ci, "npm", "true") // not a system it holds a credential for

	list, err := f.gw.Credentials(ctx, f.admin, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("Credentials = %+v, want 2 rows", list)
	}
	ci, dev := list[0], list[1]
	if ci.Agent != "ci" || ci.System != "github" || ci.Secret != "GITHUB_TOKEN" || ci.Env != "GH_TOKEN" || !ci.SecretSet ||
		ci.LastUsed == nil || !ci.LastUsed.Equal(*last.StartedAt) || ci.LastAction != last.ID {
		t.Errorf("ci: %+v; want last used by %s at %v (not %s)", ci, last.ID, last.StartedAt, first.ID)
	}
	if dev.Agent != "dev" || dev.Secret != "NPM_TOKEN" || dev.SecretSet || dev.LastUsed != nil {
		t.Errorf("dev: %+v; want not set, never used", dev)
	}
	if only, err := f.gw.Credentials(ctx, f.admin, "dev"); err != nil || len(only) != 1 || only[0].Agent != "dev" {
		t.Errorf("Credentials(dev) = %+v, %v", only, err)
	}
	if _, err := f.gw.Credentials(ctx, f.ci, ""); gatehouse.ErrorCode(err) != gatehouse.EFORBIDDEN {
		t.Errorf("an agent listing credentials: %v, want EFORBIDDEN", err)
	}

	// Removed: the row stays (the grant does), the secret is no longer set.
	if err := f.gw.RemoveSecret(ctx, f.admin, "GITHUB_TOKEN"); err != nil {
		t.Fatal(err)
	}
	if err := f.gw.RemoveSecret(ctx, f.admin, "GITHUB_TOKEN"); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Errorf("second remove: %v, want ENOTFOUND", err)
	}
	list, _ = f.gw.Credentials(ctx, f.admin, "ci")
	if len(list) != 1 || list[0].SecretSet || list[0].LastAction != last.ID {
		t.Errorf("after rm: %+v", list)
	}
	r, err := f.gw.Verify(ctx, f.admin)
	if err != nil || !r.OK() || r.Secrets != 0 {
		t.Errorf("Verify = %+v, %v", r, err)
	}
}

// Many actions, the credential used long ago: the listing pages back to
// it.
func TestCredentialsListingPages(t *testing.T) {
	f := newCredFixture(t, "")
	ctx := context.Background()
	if _, err := f.gw.SetSecret(ctx, f.admin, "GITHUB_TOKEN", []byte(ghToken)); err != nil {
		t.Fatal(err)
	}
	used, _ := f.run(t, f.ci, "github", "true")
	// 2500 later actions of ci without the credential, appended directly.
	var evs []gatehouse.Event
	for i := range 2500 {
		at := used.Time.Add(time.Duration(i+1) * time.Millisecond)
		id := "01TEST" + strings.Repeat("0", 14) + hex.EncodeToString([]byte{byte(i >> 8), byte(i)}) + "00"
		ev, _ := gatehouse.NewEvent(at, gatehouse.EventActionRequested, id, gatehouse.ActionRequested{Agent: "ci", Kind: gatehouse.KindShell, Command: "x", Cwd: "/"})
		evs = append(evs, ev)
	}
	if _, err := f.store.Append(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	list, err := f.gw.Credentials(ctx, f.admin, "ci")
	if err != nil || len(list) != 1 || list[0].LastAction != used.ID {
		t.Errorf("Credentials = %+v, %v; want last used by %s", list, err, used.ID)
	}
}

// A pending action is granted its credentials at request; if the grants
// change before it runs (a restart with another configuration), it fails
// instead of running with what it was not granted when reviewed.
func TestCredentialGrantsChangedWhilePending(t *testing.T) {
	f := newCredFixture(t, "version: 1\ndefault: review\napproval_timeout: 1m\n")
	ctx := context.Background()
	if _, err := f.gw.SetSecret(ctx, f.admin, "GITHUB_TOKEN", []byte(ghToken)); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(ctx)
	pend := make(chan *gatehouse.Action, 1)
	req := gatehouse.RunRequest{Argv: []string{"true"}, System: "github", Cwd: f.dir}
	go f.gw.Run(c, f.ci, req, gateway.Sink{Pending: func(a *gatehouse.Action) { pend <- a }})
	a := <-pend
	if len(a.Credentials) != 1 || a.Credentials[0].Secret != "GITHUB_TOKEN" {
		t.Fatalf("pending action's credentials %v: reviewers must see them", a.Credentials)
	}
	cancel()
	if err := f.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	gw2 := f.newGateway("version: 1\ndefault: review\napproval_timeout: 1m\n", nil) // no grants now
	if _, err := gw2.Recover(ctx, gatehouse.DaemonStarted{}); err != nil {
		t.Fatal(err)
	}
	got, err := gw2.Attach(ctx, f.ci, a.ID, req, gateway.Sink{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != gatehouse.StatusFailed || got.StartedAt != nil || !strings.Contains(got.Error, "credentials granted to this action changed") {
		t.Errorf("attached: %s %q", got.Status, got.Error)
	}
}
