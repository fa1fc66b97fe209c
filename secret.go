package gatehouse

import (
	"context"
	"regexp"
	"time"
)

// SealedSecret is a secret as the gateway keeps it: its value encrypted
// with a key that is not in the store (internal/seal). Nothing here is,
// or is derived from, the value but Ciphertext, which never leaves the
// daemon and is never journaled.
type SealedSecret struct {
	Name  string `json:"name"`
	KeyID string `json:"key_id"` // the key it is sealed with
	// Ciphertext is the nonce and the sealed value; the name, the key id
	// and UpdatedAt are its associated data.
	Ciphertext []byte    `json:"-"`
	CreatedAt  time.Time `json:"created_at"` // first set (since it was last removed)
	UpdatedAt  time.Time `json:"updated_at"` // last set: the time of its secret.set event
}

// SecretStore keeps the gateway's sealed secrets, each change atomic with
// the journal event that records it. *sqlite.Store and *postgres.Store
// implement it. It is not a projection of the journal — the journal never
// holds a value or a ciphertext — but Verify checks that the names and
// times it holds are those the journal's secret.set and secret.removed
// events say.
type SecretStore interface {
	// PutSecret stores s under s.Name, replacing the secret of that name
	// if there is one (keeping its CreatedAt), and appends ev, the
	// secret.set event about it, in the same transaction: both are
	// durable, or neither is. It returns ev as linked into the journal.
	// EUNAVAILABLE if the store cannot be written.
	PutSecret(ctx context.Context, s *SealedSecret, ev Event) (Event, error)

	// DeleteSecret removes the secret name and appends ev, its
	// secret.removed event, atomically. ENOTFOUND, with nothing appended,
	// if there is no such secret.
	DeleteSecret(ctx context.Context, name string, ev Event) (Event, error)

	// Secret returns the secret name, or ENOTFOUND.
	Secret(ctx context.Context, name string) (*SealedSecret, error)

	// Secrets returns every secret, by name.
	Secrets(ctx context.Context) ([]*SealedSecret, error)
}

// SecretSet is the payload of secret.set (subject: the secret's name):
// who set it, and whether it replaced a value. Never the value, nor
// anything computed from it.
type SecretSet struct {
	By       string `json:"by"`
	Replaced bool   `json:"replaced,omitempty"`
}

// SecretRemoved is the payload of secret.removed.
type SecretRemoved struct {
	By string `json:"by"`
}

var secretName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// ValidateSecretName returns EINVALID unless name is 1–64 letters, digits,
// '_', '.' or '-', starting with a letter (GITHUB_TOKEN, aws.prod).
func ValidateSecretName(name string) error {
	if !secretName.MatchString(name) {
		return Errorf(EINVALID, "invalid secret name %q: use 1-64 letters, digits, '_', '.' or '-', starting with a letter", name)
	}
	return nil
}
