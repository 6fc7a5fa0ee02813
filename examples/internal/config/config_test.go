package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSqliteInDir(t *testing.T) {
	for url, want := range map[string]string{
		"jobs.db":                          "/data/jobs.db",
		"sub/jobs.db":                      "/data/sub/jobs.db",
		"sqlite:jobs.db":                   "sqlite:/data/jobs.db",
		"SQLite://jobs.db":                 "SQLite:///data/jobs.db",
		"/srv/jobs.db":                     "/srv/jobs.db",
		"sqlite:/srv/jobs.db":              "sqlite:/srv/jobs.db",
		"postgres://u:p@db:5432/app":       "postgres://u:p@db:5432/app",
		"POSTGRESQL://u:p@db:5432/app?x=y": "POSTGRESQL://u:p@db:5432/app?x=y",
		"pgsql://u:pw@db/app":              "pgsql://u:pw@db/app",
		"host=db password=pw":              "host=db password=pw",
		"":                                 "",
	} {
		if got := sqliteInDir(url, "/data"); got != want {
			t.Errorf("sqliteInDir(%q) = %q, want %q", url, got, want)
		}
	}
}

func TestLoadPutsFilesInDataDir(t *testing.T) {
	settings := t.TempDir()
	yaml := `default:
  OPTIONAL_COMPONENTS:
    db: {DRIVER: sqlite, OPTS: {path: notes.db}}
    jobs: {DRIVER: river, OPTS: {url: jobs.db}}
    pg: {DRIVER: river, OPTS: {url: "postgres://u@db/app"}}
    other: {DRIVER: something, OPTS: {url: jobs.db}}
    capital: {DRIVER: " River", OPTS: {url: capital.db}}
`
	if err := os.WriteFile(filepath.Join(settings, "opa.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPA_SETTINGS_DIR", "") // restored after the test: Load sets it
	data := filepath.Join(t.TempDir(), "new", "data")
	cfg, err := Load(settings, data)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(data); err != nil || !st.IsDir() {
		t.Errorf("Load did not make the data directory: %v", err)
	}
	for name, want := range map[string]string{
		"db":    filepath.Join(data, "notes.db"),
		"jobs":  filepath.Join(data, "jobs.db"),
		"pg":    "postgres://u@db/app",
		"other": "jobs.db", // not a river url: kept
		// opa matches driver names in any case: so does Load
		"capital": filepath.Join(data, "capital.db"),
	} {
		opts := cfg.OptionalComponents[name].Opts
		got := opts["path"]
		if got == nil {
			got = opts["url"]
		}
		if got != want {
			t.Errorf("component %s: file %v, want %v", name, got, want)
		}
	}
}
