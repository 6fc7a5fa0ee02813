package opa

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	comps := func(cc map[string]ComponentConfig) Config { return Config{OptionalComponents: cc} }
	valid := []struct {
		name string
		c    Config
	}{
		{"zero", Config{}},
		{"regexes", Config{WhitelistRE: "/a/.*", BlacklistRE: "x|y"}},
		{"components", comps(map[string]ComponentConfig{
			"a": {Driver: "d"}, "b": {Load: "YES", Driver: "d"}, "c": {Load: " auto ", Driver: "d"}, "d": {Load: "No"},
		})},
		{"a timeout", Config{ComponentTimeout: time.Second}},
		{"pins", Config{PluginSHA256: map[string]string{"a": strings.Repeat("Ab", 32), "b": " " + strings.Repeat("09", 32) + "\n"}}},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			assert.NoError(t, tc.c.validate())
		})
	}
	invalid := []struct {
		name string
		c    Config
		key  string
		msg  string
	}{
		{"whitelist regex", Config{WhitelistRE: "("}, "PLUGIN_WHITELIST_RE", "invalid regular expression"},
		{"blacklist regex", Config{BlacklistRE: "[z-a]"}, "PLUGIN_BLACKLIST_RE", "invalid regular expression"},
		// Valid only once wrapped in ^(?:...): its second branch would not be anchored.
		{"whitelist regex escaping its anchor", Config{WhitelistRE: "x)|(.*y"}, "PLUGIN_WHITELIST_RE", `invalid regular expression "x)|(.*y"`},
		{"blacklist regex escaping its anchor", Config{BlacklistRE: "a)|(?:b"}, "PLUGIN_BLACKLIST_RE", `invalid regular expression "a)|(?:b"`},
		{"negative timeout", Config{ComponentTimeout: -time.Second}, "COMPONENT_TIMEOUT", "negative"},
		{"unknown LOAD", comps(map[string]ComponentConfig{"redis": {Load: "maybe", Driver: "d"}}), "OPTIONAL_COMPONENTS.REDIS.LOAD", `"maybe"`},
		{"missing DRIVER", comps(map[string]ComponentConfig{"redis": {Load: "auto"}}), "OPTIONAL_COMPONENTS.REDIS.DRIVER", "DRIVER is required"},
		{"blank DRIVER", comps(map[string]ComponentConfig{"redis": {Driver: "  "}}), "OPTIONAL_COMPONENTS.REDIS.DRIVER", "DRIVER is required"},
		{"names differing in case", comps(map[string]ComponentConfig{"Redis": {Driver: "d"}, "redis": {Driver: "d"}}), "OPTIONAL_COMPONENTS.REDIS", "differ only in case"},
		{"an empty name", comps(map[string]ComponentConfig{"": {Driver: "d"}}), "OPTIONAL_COMPONENTS.", "needs a name"},
		{"a pin too short", Config{PluginSHA256: map[string]string{"hello": "abc"}}, "PLUGIN_SHA256.HELLO", `"abc" is not a SHA-256 in hex`},
		{"a pin not in hex", Config{PluginSHA256: map[string]string{"a": strings.Repeat("ab", 32), "b": strings.Repeat("zz", 32)}}, "PLUGIN_SHA256.B", "not a SHA-256 in hex"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.validate()
			require.ErrorIs(t, err, ErrConfig)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.key, ce.Key)
			assert.Empty(t, ce.Source)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestConfigNormalizeLoad(t *testing.T) {
	for in, want := range map[string]string{
		"": "auto", "  ": "auto", "auto": "auto", "AUTO": "auto", "yes": "yes", "Yes": "yes", " no ": "no",
		"NO": "no", "true": "yes", "False": "no",
	} {
		t.Run(in, func(t *testing.T) {
			got, err := normalizeLoad(in)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
	for _, in := range []string{"maybe", "1", "y", "on", "yes please"} {
		t.Run("error "+in, func(t *testing.T) {
			_, err := normalizeLoad(in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), in)
		})
	}
}
