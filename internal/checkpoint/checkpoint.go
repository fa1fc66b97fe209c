// Package checkpoint signs the head of the journal with an ed25519 key, so
// that it can be kept somewhere the journal's host cannot rewrite, and
// checks such a checkpoint later. `gatehouse verify --checkpoint` then
// detects what the hash chain alone cannot: a journal cut off before the
// checkpoint, or rewritten — every event re-hashed — up to it.
//
// A checkpoint is a small JSON document (Format). Its signature covers a
// fixed binary encoding of its fields (see signed), not the JSON, so that
// re-indenting the file does not break it. Keys are PEM files: the private
// key as PKCS #8 ("PRIVATE KEY"), the public key as PKIX ("PUBLIC KEY"),
// both readable by openssl.
package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Format names the checkpoint document and is the domain tag of what is
// signed.
const Format = "gatehouse.checkpoint.v1"

// KeyFile is the default key's file name in the state directory.
const KeyFile = "checkpoint.key"

// Checkpoint is the journal's head at a moment, signed.
type Checkpoint struct {
	Format string `json:"format"`
	// Seq and Hash are the newest event's; Count the number of events up
	// to it (sequence numbers have no gaps, so it equals Seq); Time the
	// event's time.
	Seq   int64     `json:"seq"`
	Hash  string    `json:"hash"`
	Count int64     `json:"count"`
	Time  time.Time `json:"time"`
	// CreatedAt is when it was signed.
	CreatedAt time.Time `json:"created_at"`
	// KeyID names the signing key: the first 16 hex digits of the SHA-256
	// of its public key. A hint for people; verification uses the public
	// key it is given, never one the file names.
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"` // base64 (standard) of the ed25519 signature
}

// New returns the unsigned checkpoint of a journal whose newest event is
// head, made at now.
func New(head gatehouse.Event, now time.Time) *Checkpoint {
	return &Checkpoint{Format: Format, Seq: head.Seq, Hash: head.Hash, Count: head.Seq,
		Time: head.Time.UTC(), CreatedAt: gatehouse.Timestamp(now)}
}

// Anchor is what the checkpoint vouches for, for gatehouse.VerifyAnchored.
func (c *Checkpoint) Anchor() gatehouse.Anchor { return gatehouse.Anchor{Seq: c.Seq, Hash: c.Hash} }

// signed is the byte string the signature covers: the format name and a
// NUL, then Seq, Count, Time and CreatedAt (Unix nanoseconds) as
// big-endian 64-bit integers, then the 32 bytes of Hash.
func (c *Checkpoint) signed() ([]byte, error) {
	h, err := hex.DecodeString(c.Hash)
	if err != nil || len(h) != sha256.Size {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "checkpoint: hash %q is not a SHA-256 in hex", c.Hash)
	}
	var b bytes.Buffer
	b.WriteString(Format + "\x00")
	for _, n := range []int64{c.Seq, c.Count, c.Time.UnixNano(), c.CreatedAt.UnixNano()} {
		_ = binary.Write(&b, binary.BigEndian, n)
	}
	b.Write(h)
	return b.Bytes(), nil
}

// Sign signs c with key, setting KeyID and Signature.
func (c *Checkpoint) Sign(key ed25519.PrivateKey) error {
	msg, err := c.signed()
	if err != nil {
		return err
	}
	c.KeyID = KeyID(key.Public().(ed25519.PublicKey))
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))
	return nil
}

// Verify checks that c is well formed and signed by pub. It returns
// EINVALID saying what is wrong otherwise: a checkpoint that was altered,
// forged, or signed by another key is refused.
func (c *Checkpoint) Verify(pub ed25519.PublicKey) error {
	inv := func(f string, a ...any) error {
		return gatehouse.Errorf(gatehouse.EINVALID, "checkpoint: "+f, a...)
	}
	switch {
	case c.Format != Format:
		return inv("format %q, want %q", c.Format, Format)
	case c.Seq < 1 || c.Count != c.Seq:
		return inv("seq %d and count %d do not describe a journal", c.Seq, c.Count)
	case len(pub) != ed25519.PublicKeySize:
		return inv("not an ed25519 public key")
	}
	msg, err := c.signed()
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return inv("the signature is not an ed25519 signature in base64")
	}
	if !ed25519.Verify(pub, msg, sig) {
		if k := KeyID(pub); c.KeyID != k {
			return inv("its signature does not verify: it names key %s, the public key given is %s", c.KeyID, k)
		}
		return inv("its signature does not verify with the public key given: the checkpoint was altered")
	}
	return nil
}

// Marshal returns c as indented JSON and a newline.
func (c *Checkpoint) Marshal() []byte {
	b, _ := json.MarshalIndent(c, "", "  ")
	return append(b, '\n')
}

// Parse reads a checkpoint document strictly: one JSON object with no
// unknown fields. It does not check the signature (Verify does).
func Parse(b []byte) (*Checkpoint, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Checkpoint
	if err := dec.Decode(&c); err != nil {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "not a checkpoint: %v", err)
	}
	if dec.More() {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "not a checkpoint: trailing data")
	}
	return &c, nil
}

// KeyID is the first 16 hex digits of the SHA-256 of a public key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// LoadOrCreateKey reads the private key at path, creating it (mode 0600,
// in a directory created 0700) if there is no file there; created says
// which. A key file that others may read is refused (EINVALID).
func LoadOrCreateKey(path string) (key ed25519.PrivateKey, created bool, err error) {
	key, err = LoadPrivateKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, err
	}
	return key, true, f.Close()
}

// LoadPrivateKey reads an ed25519 private key from a PEM file (PKCS #8).
// The error wraps fs.ErrNotExist if there is no file; it is EINVALID if
// the file is not such a key or others may read it.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "%s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "%s is not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	key, ok := k.(ed25519.PrivateKey)
	if err != nil || !ok {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "%s is not an ed25519 private key", path)
	}
	return key, nil
}

// LoadPublicKey reads an ed25519 public key from a PEM file: a PUBLIC KEY
// (PKIX), or a private key, whose public half it returns.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "%s is not a PEM file", path)
	}
	switch blk.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		pub, ok := k.(ed25519.PublicKey)
		if err != nil || !ok {
			return nil, gatehouse.Errorf(gatehouse.EINVALID, "%s is not an ed25519 public key", path)
		}
		return pub, nil
	case "PRIVATE KEY":
		key, err := LoadPrivateKey(path)
		if err != nil {
			return nil, err
		}
		return key.Public().(ed25519.PublicKey), nil
	}
	return nil, gatehouse.Errorf(gatehouse.EINVALID, "%s holds a %s, not a public key", path, blk.Type)
}

// PublicPEM encodes a public key as a PEM PUBLIC KEY block.
func PublicPEM(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(fmt.Sprintf("checkpoint: marshalling an ed25519 public key: %v", err)) // cannot fail for a valid key
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
