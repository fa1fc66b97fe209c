package migration_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gatehouse-dev/gatehouse/internal/migration"
)

func TestLoad(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name    string
		fs      fstest.MapFS
		want    []string // names, in order
		wantErr string
	}{
		{"in order", fstest.MapFS{"m/0002_b.sql": file("B"), "m/0001_a.sql": file("A")}, []string{"0001_a.sql", "0002_b.sql"}, ""},
		{"none", fstest.MapFS{}, nil, ""},
		{"gap", fstest.MapFS{"m/0001_a.sql": file("A"), "m/0003_c.sql": file("C")}, nil, "migration 0003_c.sql: want number 0002"},
		{"not a number", fstest.MapFS{"m/first.sql": file("A")}, nil, "migration first.sql: want number 0001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := migration.Load(tc.fs, "m/*.sql")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load = %v, want error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for i, m := range ms {
				if m.Version != i+1 {
					t.Errorf("%s: version %d, want %d", m.Name, m.Version, i+1)
				}
				names = append(names, m.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") {
				t.Errorf("names = %v, want %v", names, tc.want)
			}
			if len(ms) > 0 && ms[0].SQL != "A" {
				t.Errorf("first SQL = %q", ms[0].SQL)
			}
		})
	}
}
