package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Credentials with the real Claude Code: the session's scan at
// SessionStart names what its process reaches (names and paths, no
// values); its own Bash never has a gateway-held credential, while a
// gatehouse run it makes for the granted system does — and what the model
// reads back is the marker.
func TestClaudeCodeCredentials(t *testing.T) {
	claudeBin(t)
	e := setup(t, e2ePolicy, "credentials:\n  - {secret: GITHUB_TOKEN, env: GH_TOKEN, agents: [claude], systems: [github]}\n")
	const token = "ghp_e2eTokenValue0123456789abcdef"
	set := exec.Command(e.bin, "secret", "set", "GITHUB_TOKEN")
	set.Env = append(os.Environ(), "GATEHOUSE_URL="+e.url, "GATEHOUSE_STATE="+e.state, "GATEHOUSE_TOKEN=")
	set.Stdin = strings.NewReader(token + "\n")
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
	const fileSecret = "wJalrXUtnFEMI-e2e-file-content"
	for path, content := range map[string]string{
		filepath.Join(e.home, ".aws", "credentials"): "[default]\naws_secret_access_key = " + fileSecret + "\n",
		filepath.Join(e.project, ".env"):             "STRIPE_KEY=" + fileSecret + "\n",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	api := &scriptedAPI{script: []toolCall{
		bash(e.bin + ` run --system github -- sh -c 'echo "token=$GH_TOKEN"'`),
		bash(`echo "direct=${GH_TOKEN:-unset}"`),
	}}
	out, err := e.claude(api)
	t.Logf("claude: %v\n%s", err, out)
	api.mu.Lock()
	seen := strings.Join(api.seen, "\n")
	api.mu.Unlock()
	if !strings.Contains(seen, "token=[REDACTED:GITHUB_TOKEN]") || !strings.Contains(seen, "direct=unset") {
		t.Errorf("the model was shown %q; want the marker from gatehouse run and nothing in its own Bash", seen)
	}
	if strings.Contains(seen, token) {
		t.Errorf("the model was shown the token: %q", seen)
	}

	// The session's scan, by the session id of its actions.
	var first struct {
		Session string `json:"session"`
	}
	logOut := e.gh("log", "-o", "jsonl", "--limit", "1", "--grep", "direct=")
	if err := json.Unmarshal([]byte(strings.TrimSpace(logOut)), &first); err != nil || first.Session == "" {
		t.Fatalf("no session in %q: %v", logOut, err)
	}
	scan := e.gh("creds", "scan", "--session", first.Session, "-o", "json")
	for _, want := range []string{`"ANTHROPIC_API_KEY"`, `"GATEHOUSE_TOKEN"`,
		`"path": "` + filepath.Join(e.home, ".aws", "credentials") + `"`, `"path": "` + filepath.Join(e.project, ".env") + `"`} {
		if !strings.Contains(scan, want) {
			t.Errorf("the scan lacks %s:\n%s", want, scan)
		}
	}
	for _, never := range []string{fileSecret, "sk-test", e.token} {
		if strings.Contains(scan, never) {
			t.Errorf("the scan holds a value (%q):\n%s", never, scan)
		}
	}
	if creds := e.gh("creds"); !strings.Contains(creds, "claude") || strings.Contains(creds, "never") {
		t.Errorf("creds does not show claude's use of GITHUB_TOKEN:\n%s", creds)
	}
	all := e.gh("log", "-o", "jsonl")
	if strings.Contains(all, token) || strings.Contains(all, fileSecret) {
		t.Errorf("the journal holds a value")
	}
	if v := e.gh("verify"); !strings.HasPrefix(v, "ok: ") {
		t.Errorf("verify: %s", v)
	}
}
