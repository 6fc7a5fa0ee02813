package opa

import (
	"errors"
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
		_, _, _ = parseEnvValue(value, []string{"k"})
	})
}
