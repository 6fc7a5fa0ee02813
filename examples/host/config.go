package main

import (
	"os"
	"path/filepath"

	"github.com/opa-stack/opa-go"
)

// loadConfig reads opa's settings (files in settingsDir, when given, and
// OPA_ variables) as opa.Startup would, then applies this host's one
// convention: a component option "path" that is relative names a file
// inside dataDir. The settings then need not know where the host keeps its
// data.
func loadConfig(settingsDir, dataDir string) (opa.Config, error) {
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
	for _, c := range cfg.OptionalComponents {
		if p, ok := c.Opts["path"].(string); ok && p != "" && !filepath.IsAbs(p) {
			c.Opts["path"] = filepath.Join(dataDir, p)
		}
	}
	return cfg, nil
}
