package opa

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadConfigEnv feeds one arbitrary OPA_ variable to the whole loader:
// whatever the name and value, it must return a Config or a *ConfigError,
// never panic.
func FuzzLoadConfigEnv(f *testing.F) {
	seeds := [][2]string{
		{"PLUGIN_PATHS", "/plugins"},
		{"PLUGIN_PATHS", `["/a","/b"]`},
		{"PLUGIN_PATHS", "@merge a,b"},
		{"PLUGIN_PATHS", `@merge {"a": [1, {"b": null}]}`},
		{"OPTIONAL_COMPONENTS", `{"redis": {"load": "yes", "driver": "r", "opts": {"port": 1e400}}}`},
		{"OPTIONAL_COMPONENTS__REDIS__LOAD", "no"},
		{"OPTIONAL_COMPONENTS__REDIS", "@merge x"},
		{"COMPONENT_TIMEOUT", "-9223372036854775808"},
		{"COMPONENT_TIMEOUT", "@float NaN"},
		{"PLUGIN_WHITELIST_RE", "(?P<x"},
		{"A____B", "@json [[[[]]]]"},
		{"X", "@str"},
		{"", "{"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, name, value string) {
		_, err := loadConfig(nil, []string{envSettingsDir + "=" + dir, envPrefix + name + "=" + value})
		var ce *ConfigError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
		}
	})
}

// FuzzLoadConfigFile feeds arbitrary settings-file contents, as YAML, JSON
// and TOML, to the whole loader: a Config or a *ConfigError, never a panic.
func FuzzLoadConfigFile(f *testing.F) {
	for _, s := range []string{
		"default:\n  PLUGIN_PATHS: [a, dynaconf_merge]\n",
		`{"development": {"OPTIONAL_COMPONENTS": {"x": {"LOAD": true, "DRIVER": "d"}}}}`,
		"[global]\nPLUGIN_WHITELIST_RE = \"(\"\n",
		"default: &a\n  k: *a\n",
		"development:\n  OPTIONAL_COMPONENTS: {dynaconf_merge: true, x: {LOAD: maybe}}\n",
	} {
		f.Add(uint8(0), s)
	}
	exts := []string{"yaml", "json", "toml"}
	f.Fuzz(func(t *testing.T, ext uint8, content string) {
		dir := t.TempDir()
		file := filepath.Join(dir, "a."+exts[int(ext)%len(exts)])
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(nil, []string{envSettingsDir + "=" + dir})
		var ce *ConfigError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
		}
	})
}
