// Package config reads the settings of the example host and worker, which
// must agree: they share the plugins, the databases and the job queue.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opa-stack/opa-go"
)

// Load reads opa's settings (files in settingsDir, when given, and OPA_
// variables) as opa.Startup would, then applies the examples' one
// convention: a file a component names by a relative path is inside
// dataDir, which Load creates if needed. The settings then need not know
// where a process keeps its data. The relative paths are
//
//   - OPTS.path of any component (the sqlite driver's database file);
//   - OPTS.url of a DRIVER river component, when it is a SQLite file
//     (jobs.db or sqlite:jobs.db) and not a postgres:// URL.
func Load(settingsDir, dataDir string) (opa.Config, error) {
	if settingsDir != "" {
		// LoadConfig reads the directory from the environment.
		if err := os.Setenv("OPA_SETTINGS_DIR", settingsDir); err != nil {
			return opa.Config{}, err
		}
	}
	cfg, err := opa.LoadConfig(nil)
	if err != nil {
		return opa.Config{}, err
	}
	dataDir, err = filepath.Abs(dataDir)
	if err != nil {
		return opa.Config{}, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return opa.Config{}, fmt.Errorf("data directory: %w", err)
	}
	for _, c := range cfg.OptionalComponents {
		if p, ok := c.Opts["path"].(string); ok && p != "" && !filepath.IsAbs(p) {
			c.Opts["path"] = filepath.Join(dataDir, p)
		}
		if u, ok := c.Opts["url"].(string); ok && strings.EqualFold(strings.TrimSpace(c.Driver), "river") { // driver names match in any case, as opa matches them
			c.Opts["url"] = sqliteInDir(u, dataDir)
		}
	}
	return cfg, nil
}

// sqliteInDir puts a relative SQLite file of a river OPTS.url (a plain
// path, or sqlite:PATH) inside dir; any other url (postgres://, another
// scheme, a libpq key=value string, an absolute path, empty) is kept as it
// is, for the driver to take or refuse: never made into a file name.
func sqliteInDir(url, dir string) string {
	lower := strings.ToLower(url)
	prefix := ""
	for _, p := range []string{"sqlite://", "sqlite:"} {
		if strings.HasPrefix(lower, p) {
			prefix = url[:len(p)]
			break
		}
	}
	if scheme, _, ok := strings.Cut(url, ":"); prefix == "" && (ok && !strings.Contains(scheme, "/") || strings.Contains(url, "=")) {
		return url
	}
	path := url[len(prefix):]
	if path == "" || filepath.IsAbs(path) {
		return url
	}
	return prefix + filepath.Join(dir, path)
}
