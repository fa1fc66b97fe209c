package credscan_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/credscan"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestScan(t *testing.T) {
	home, proj, other := t.TempDir(), t.TempDir(), t.TempDir()
	const secret = "AKIA-SECRET-CONTENT-never-printed"
	write(t, filepath.Join(home, ".aws/credentials"), "[default]\naws_secret_access_key = "+secret+"\n")
	write(t, filepath.Join(home, ".ssh/id_ed25519"), secret)
	write(t, filepath.Join(home, ".ssh/id_ed25519.pub"), "ssh-ed25519 AAAA public")
	write(t, filepath.Join(home, ".ssh/known_hosts"), "host key")
	write(t, filepath.Join(home, ".kube/config"), secret)
	write(t, filepath.Join(home, ".netrc"), "machine x password "+secret)
	if err := os.MkdirAll(filepath.Join(home, ".docker/config.json"), 0o700); err != nil { // a directory, not a file
		t.Fatal(err)
	}
	write(t, filepath.Join(proj, ".env"), "API_KEY="+secret)
	write(t, filepath.Join(proj, ".env.local"), "X="+secret)
	write(t, filepath.Join(proj, ".env.example"), "API_KEY=changeme")
	write(t, filepath.Join(other, "sa.json"), secret)
	write(t, filepath.Join(other, "kube-a"), secret)

	r := credscan.Scan(credscan.Input{
		Home: home, Dirs: []string{proj, "relative/ignored"},
		Environ: []string{
			"PATH=/usr/bin", "HOME=" + home, "PWD=/x", "TERM=xterm",
			"GITHUB_TOKEN=" + secret, "AWS_ACCESS_KEY_ID=" + secret, "AWS_REGION=eu-west-1",
			"OPENAI_API_KEY=" + secret, "DB_PASSWORD=" + secret, "STRIPE_SECRET_KEY=" + secret,
			"DATABASE_URL=postgres://u:" + secret + "@h/db", "SSH_AUTH_SOCK=/tmp/agent.sock",
			"EMPTY_TOKEN=", "KEYMAP=us",
			"GOOGLE_APPLICATION_CREDENTIALS=" + filepath.Join(other, "sa.json"),
			"KUBECONFIG=" + filepath.Join(other, "kube-a") + ":" + filepath.Join(other, "missing"),
		},
	})
	wantEnv := []string{"AWS_ACCESS_KEY_ID", "DATABASE_URL", "DB_PASSWORD", "GITHUB_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS",
		"KUBECONFIG", "OPENAI_API_KEY", "SSH_AUTH_SOCK", "STRIPE_SECRET_KEY"}
	if !reflect.DeepEqual(r.Env, wantEnv) {
		t.Errorf("Env = %v\nwant %v", r.Env, wantEnv)
	}
	wantFiles := []gatehouse.ReachableFile{
		{Path: filepath.Join(home, ".aws/credentials"), Kind: "aws"},
		{Path: filepath.Join(home, ".kube/config"), Kind: "kubernetes"},
		{Path: filepath.Join(home, ".ssh/id_ed25519"), Kind: "ssh"},
		{Path: filepath.Join(home, ".netrc"), Kind: "netrc"},
		{Path: filepath.Join(other, "sa.json"), Kind: "gcloud"},
		{Path: filepath.Join(other, "kube-a"), Kind: "kubernetes"},
		{Path: filepath.Join(proj, ".env"), Kind: "dotenv"},
		{Path: filepath.Join(proj, ".env.local"), Kind: "dotenv"},
	}
	if !reflect.DeepEqual(r.Files, wantFiles) {
		t.Errorf("Files = %v\nwant %v", r.Files, wantFiles)
	}
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), "SECRET-CONTENT") || strings.Contains(string(b), "eu-west-1") {
		t.Errorf("the scan holds a value: %s", b)
	}
}

func TestScanNothing(t *testing.T) {
	r := credscan.Scan(credscan.Input{Home: t.TempDir(), Environ: []string{"PATH=/bin", "LANG=C"}})
	if len(r.Env) != 0 || len(r.Files) != 0 || r.Env == nil || r.Files == nil {
		t.Errorf("Scan = %#v, want empty lists", r)
	}
}

// A file the process may not read is not reachable. (Root reads
// everything: there the test cannot tell.)
func TestScanUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can read a mode-000 file")
	}
	home := t.TempDir()
	write(t, filepath.Join(home, ".netrc"), "x")
	if err := os.Chmod(filepath.Join(home, ".netrc"), 0); err != nil {
		t.Fatal(err)
	}
	if r := credscan.Scan(credscan.Input{Home: home}); len(r.Files) != 0 {
		t.Errorf("Files = %v, want none readable", r.Files)
	}
}
