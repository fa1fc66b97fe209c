// Package migration reads a store's embedded schema migrations: files
// named NNNN_what.sql whose numbers run 1, 2, 3, … (a gap would leave a
// database at a version that no build can explain). How a store applies
// them and records its version is the store's own (SQLite's user_version,
// PostgreSQL's schema table); the numbering and loading are shared.
package migration

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema change: version n is the file whose name starts
// with n (0001_initial.sql is version 1).
type Migration struct {
	Version int
	Name    string // the file's name, e.g. 0001_initial.sql
	SQL     string
}

// Load returns the migrations matching pattern in fsys (e.g.
// "migrations/*.sql"), in order, or an error naming the first file whose
// number is not the next one.
func Load(fsys fs.FS, pattern string) ([]Migration, error) {
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	ms := make([]Migration, 0, len(names))
	for i, name := range names {
		base := path.Base(name)
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want number %04d", base, i+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	return ms, nil
}
