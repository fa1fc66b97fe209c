package checkpoint_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/checkpoint"
)

var head = gatehouse.Event{Seq: 42, Time: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC),
	Hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}

func signed(t *testing.T, key ed25519.PrivateKey) *checkpoint.Checkpoint {
	t.Helper()
	c := checkpoint.New(head, head.Time.Add(time.Minute))
	if err := c.Sign(key); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSignVerify(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pub := key.Public().(ed25519.PublicKey)
	c := signed(t, key)
	if err := c.Verify(pub); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Through the file form, re-indented: still valid.
	back, err := checkpoint.Parse([]byte(strings.ReplaceAll(string(c.Marshal()), "\n  ", "\n\t")))
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(pub); err != nil {
		t.Fatalf("Verify after a round trip: %v", err)
	}
	if back.Anchor() != (gatehouse.Anchor{Seq: 42, Hash: head.Hash}) {
		t.Errorf("Anchor() = %+v", back.Anchor())
	}

	_, other, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name   string
		change func(*checkpoint.Checkpoint)
		pub    ed25519.PublicKey
	}{
		{"seq moved back", func(c *checkpoint.Checkpoint) { c.Seq, c.Count = 41, 41 }, pub},
		{"hash swapped", func(c *checkpoint.Checkpoint) { c.Hash = strings.Repeat("ab", 32) }, pub},
		{"time changed", func(c *checkpoint.Checkpoint) { c.Time = c.Time.Add(time.Second) }, pub},
		{"signed later", func(c *checkpoint.Checkpoint) { c.CreatedAt = c.CreatedAt.Add(time.Hour) }, pub},
		{"count off", func(c *checkpoint.Checkpoint) { c.Count = 40 }, pub},
		{"signature garbled", func(c *checkpoint.Checkpoint) { c.Signature = "AAAA" + c.Signature[4:] }, pub},
		{"not base64", func(c *checkpoint.Checkpoint) { c.Signature = "!!" }, pub},
		{"another format", func(c *checkpoint.Checkpoint) { c.Format = "gatehouse.checkpoint.v0" }, pub},
		{"another key's public key", func(c *checkpoint.Checkpoint) {}, other.Public().(ed25519.PublicKey)},
		{"re-signed by another key", func(c *checkpoint.Checkpoint) { c.Seq, c.Count = 41, 41; c.Sign(other) }, pub},
	} {
		c := signed(t, key)
		tc.change(c)
		if err := c.Verify(tc.pub); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
			t.Errorf("%s: Verify = %v, want EINVALID", tc.name, err)
		}
	}
	for _, bad := range []string{"", "{}x", `{"format":"gatehouse.checkpoint.v1","extra":1}`, "[1]"} {
		if _, err := checkpoint.Parse([]byte(bad)); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
			t.Errorf("Parse(%q) = %v, want EINVALID", bad, err)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, checkpoint.KeyFile)
	key, created, err := checkpoint.LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("first use: %v, created %v", err, created)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, mode %v; want %v", p, err, fi.Mode().Perm(), want)
		}
	}
	again, created, err := checkpoint.LoadOrCreateKey(path)
	if err != nil || created || !again.Equal(key) {
		t.Fatalf("second use: %v, created %v, same key %v", err, created, again.Equal(key))
	}
	// The public key: from the private key file, and from its PEM.
	pub := key.Public().(ed25519.PublicKey)
	fromPriv, err := checkpoint.LoadPublicKey(path)
	if err != nil || !fromPriv.Equal(pub) {
		t.Fatalf("LoadPublicKey(private) = %v", err)
	}
	pubPath := filepath.Join(t.TempDir(), "pub.pem")
	if err := os.WriteFile(pubPath, checkpoint.PublicPEM(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := checkpoint.LoadPublicKey(pubPath); err != nil || !got.Equal(pub) {
		t.Fatalf("LoadPublicKey(public) = %v", err)
	}
	// A key file others can read is refused.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := checkpoint.LoadOrCreateKey(path); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
		t.Errorf("a world-readable key: %v, want EINVALID", err)
	}
	// Neither a public key nor garbage is a private key.
	if _, err := checkpoint.LoadPrivateKey(pubPath); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
		t.Errorf("LoadPrivateKey(public) = %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("junk"), 0o600)
	if _, err := checkpoint.LoadPublicKey(junk); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
		t.Errorf("LoadPublicKey(junk) = %v", err)
	}
}
