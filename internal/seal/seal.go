// Package seal encrypts the gateway's secrets at rest: AES-256-GCM with a
// key kept in a file of its own (secrets.key in the state directory, or
// `gatehouse serve --secrets-key FILE`), apart from the database that
// holds the ciphertexts. A copy of gatehouse.db, or a backup of it, holds
// no value that can be read without the key file.
//
// # The key file
//
//	# comments and blank lines are ignored
//	k-3fa9c2d1 Jq3…base64 of 32 random bytes…=
//	k-08b1e7aa …an older key…
//
// One key a line: an id and the key in standard base64. The first key
// seals every value set from now on; the others only open values sealed
// before a rotation. Each sealed value records the id of its key. To
// rotate: put a new line first (NewKeyLine makes one), restart the daemon,
// set each secret again (`gatehouse secret ls` shows which key each is
// sealed with), then remove the old line. The file must not be readable
// by group or others (the daemon refuses to start otherwise); LoadOrCreate
// makes it 0600 with one key if it does not exist.
//
// # What is sealed with what
//
// A value is sealed with a random 96-bit nonce (stored before the
// ciphertext) and, as associated data, the secret's name, the key id and
// the time it was set. So a ciphertext copied to another name, or an older
// ciphertext of the same name put back in place of the current one with
// the current time (which Verify checks against the journal), does not
// open. What the encryption cannot stop: someone who can read both the
// key file and the database, or the daemon's memory, reads the values.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// KeyFileName is the key file's name in the state directory.
const KeyFileName = "secrets.key"

const (
	keySize   = 32 // AES-256
	nonceSize = 12
)

// Keyring holds the keys of a key file. It is immutable and safe for
// concurrent use.
type Keyring struct {
	path string
	keys []key // keys[0] seals
}

type key struct {
	id   string
	aead cipher.AEAD
}

var keyID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)

// Parse reads a key file's content; name is used in error messages.
func Parse(src []byte, name string) (*Keyring, error) {
	k := &Keyring{path: name}
	seen := map[string]bool{}
	for i, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(format string, a ...any) error {
			return gatehouse.Errorf(gatehouse.EINVALID, "%s:%d: %s", name, i+1, fmt.Sprintf(format, a...))
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, bad("want a key id and a base64 key")
		}
		if !keyID.MatchString(f[0]) {
			return nil, bad("invalid key id %q: 1-32 letters, digits, '.', '_' or '-'", f[0])
		}
		if seen[f[0]] {
			return nil, bad("key id %s given twice", f[0])
		}
		seen[f[0]] = true
		raw, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil || len(raw) != keySize {
			return nil, bad("key %s is not %d bytes in base64", f[0], keySize)
		}
		aead, err := newAEAD(raw)
		if err != nil {
			return nil, bad("key %s: %v", f[0], err)
		}
		k.keys = append(k.keys, key{id: f[0], aead: aead})
	}
	if len(k.keys) == 0 {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "%s: no key", name)
	}
	return k, nil
}

func newAEAD(raw []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Load reads the key file at path. It returns EINVALID if the file cannot
// be read, is readable by group or others, or is malformed.
func Load(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "secrets key: %v", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "secrets key %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	if !fi.Mode().IsRegular() {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "secrets key %s is not a regular file", path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "secrets key: %v", err)
	}
	return Parse(src, path)
}

// LoadOrCreate loads the key file at path, first creating it (mode 0600,
// one new key) if it does not exist. created reports that it did. The
// directory must exist.
func LoadOrCreate(path string) (k *Keyring, created bool, err error) {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		if err := create(path); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, false, gatehouse.Errorf(gatehouse.EINVALID, "secrets key: creating %s: %v", path, err)
		} else if err == nil {
			created = true
		}
	}
	k, err = Load(path)
	return k, created, err
}

const header = `# Gatehouse secrets key file: AES-256-GCM keys, one a line (id, base64).
# Keep it apart from gatehouse.db and its backups: together they give away
# every secret. The first key seals new values; the others only open values
# sealed before a rotation (see docs/CREDENTIALS.md).
`

// create writes a new key file at path, failing with os.ErrExist if one
// appeared meanwhile: the file is complete before it has its name.
func create(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secrets.key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	line, err := NewKeyLine()
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		_, err = io.WriteString(tmp, header+line+"\n")
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}

// NewKeyLine returns a line for a key file with a new random key and id.
func NewKeyLine() (string, error) {
	raw := make([]byte, keySize)
	id := make([]byte, 4)
	if _, err := io.ReadFull(rand.Reader, raw); err != nil {
		return "", err
	}
	if _, err := io.ReadFull(rand.Reader, id); err != nil {
		return "", err
	}
	return "k-" + hex.EncodeToString(id) + " " + base64.StdEncoding.EncodeToString(raw), nil
}

// Path is the file the keys were read from.
func (k *Keyring) Path() string { return k.path }

// KeyID is the id of the key that seals.
func (k *Keyring) KeyID() string { return k.keys[0].id }

// Seal encrypts value for s with the sealing key, bound to s.Name and
// s.UpdatedAt (which must be set), and sets s.KeyID and s.Ciphertext.
func (k *Keyring) Seal(s *gatehouse.SealedSecret, value []byte) error {
	if s.UpdatedAt.IsZero() {
		return gatehouse.Errorf(gatehouse.EINTERNAL, "seal.Seal: no time")
	}
	kk := k.keys[0]
	nonce := make([]byte, nonceSize, nonceSize+len(value)+kk.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return gatehouse.WrapError(gatehouse.EINTERNAL, "seal.Seal", err, "")
	}
	s.KeyID = kk.id
	s.Ciphertext = kk.aead.Seal(nonce, nonce, value, ad(s))
	return nil
}

// Open decrypts s. It returns EUNAVAILABLE if the key file lacks s's key,
// or if the ciphertext does not open with it: it was altered, moved to
// another name or time, or the key under its id is another key.
func (k *Keyring) Open(s *gatehouse.SealedSecret) ([]byte, error) {
	for _, kk := range k.keys {
		if kk.id != s.KeyID {
			continue
		}
		if len(s.Ciphertext) < nonceSize+kk.aead.Overhead() {
			break
		}
		v, err := kk.aead.Open(nil, s.Ciphertext[:nonceSize], s.Ciphertext[nonceSize:], ad(s))
		if err != nil {
			break
		}
		return v, nil
	}
	for _, kk := range k.keys {
		if kk.id == s.KeyID {
			return nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE,
				"secret %s does not open with key %s of %s: its stored ciphertext was altered, or the key is not the one it was sealed with", s.Name, s.KeyID, k.path)
		}
	}
	return nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "secret %s is sealed with key %s, which %s does not hold", s.Name, s.KeyID, k.path)
}

// ad is the associated data a value is sealed with.
func ad(s *gatehouse.SealedSecret) []byte {
	var b bytes.Buffer
	b.WriteString("gatehouse.secret.v1\x00")
	b.WriteString(s.Name)
	b.WriteByte(0)
	b.WriteString(s.KeyID)
	b.WriteByte(0)
	b.WriteString(strconv.FormatInt(s.UpdatedAt.UnixMicro(), 10))
	return b.Bytes()
}
