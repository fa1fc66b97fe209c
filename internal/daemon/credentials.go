package daemon

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
)

// loadSecretsKey loads the key file that seals the secrets, creating it
// (0600, one new key) on first start. It must not be the database: the
// point of it is to be apart from it.
func loadSecretsKey(cfg *Config, log *slog.Logger) (*seal.Keyring, error) {
	if cfg.SecretsKey == "" {
		cfg.SecretsKey = filepath.Join(cfg.StateDir, seal.KeyFileName)
	}
	store := cfg.Store
	if store == "" {
		store = filepath.Join(cfg.StateDir, "gatehouse.db")
	}
	if a, b := absPath(cfg.SecretsKey), absPath(store); a == b || a == b+"-wal" || a == b+"-shm" {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "secrets-key: %s is the database: keep the key apart from it", cfg.SecretsKey)
	}
	keys, created, err := seal.LoadOrCreate(cfg.SecretsKey)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created the secrets key; keep it apart from the database's backups", "file", cfg.SecretsKey)
	}
	return keys, nil
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// checkGrants warns about grants whose secret is not set: their actions
// fail until it is.
func (d *Daemon) checkGrants(ctx context.Context, log *slog.Logger) {
	warned := map[string]bool{}
	for _, g := range d.conf.Credentials.Grants() {
		if warned[g.Secret] {
			continue
		}
		ss, ok := d.store.(gatehouse.SecretStore)
		if !ok {
			return
		}
		if _, err := ss.Secret(ctx, g.Secret); gatehouse.ErrorCode(err) == gatehouse.ENOTFOUND {
			warned[g.Secret] = true
			log.Warn("a credential is granted but not set: its actions fail until it is (gatehouse secret set)", "secret", g.Secret)
		}
	}
}
