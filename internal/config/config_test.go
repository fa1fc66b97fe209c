package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/config"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unknown field", "nosuch: 1\n", "c.yaml:1: field nosuch not found"},
		{"not a mapping", "- a\n", "c.yaml:1:1: the configuration must be a mapping"},
		{"bad yaml", "a: [\n", "c.yaml:"},
		{"two documents", "{}\n---\n{}\n", "more than one YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.src), "c.yaml")
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want %q", tc.src, tc.want)
			}
			if gatehouse.ErrorCode(err) != gatehouse.EINVALID {
				t.Errorf("code = %q, want EINVALID", gatehouse.ErrorCode(err))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "{}\n"} {
		f, err := config.Parse([]byte(src), "c.yaml")
		if err != nil || f == nil {
			t.Errorf("Parse(%q) = %v, %v; want the default configuration", src, f, err)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.yaml")
	if _, err := config.Load(missing, true); err != nil {
		t.Errorf("Load(missing, optional) = %v, want the default", err)
	}
	if _, err := config.Load(missing, false); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
		t.Errorf("Load(missing, required) = %v, want EINVALID", err)
	}
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(p, false)
	if err != nil || f.Path != p {
		t.Errorf("Load(%s) = %+v, %v", p, f, err)
	}
}
