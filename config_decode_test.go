package opa

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadConfigDecode(t *testing.T) {
	tests := []struct {
		name    string
		section string // YAML under "development:"
		want    Config
	}{
		{
			name:    "every setting",
			section: "PLUGIN_PATHS: [/a, /b]\nPLUGIN_DEFAULT_PATH: /d\nPLUGIN_WHITELIST_LIST: [/a/x]\nPLUGIN_WHITELIST_RE: /a/.*\nPLUGIN_WHITELIST_TAGS: [t]\nPLUGIN_BLACKLIST_LIST: [/a/y]\nPLUGIN_BLACKLIST_RE: .*bad\nPLUGIN_BLACKLIST_TAGS: [u]\nCOMPONENT_TIMEOUT: 5s\nOPTIONAL_COMPONENTS:\n  Redis:\n    LOAD: YES\n    DRIVER: redis\n    OPTS: {Host: h, Nested: {Key: [1, two]}}\n",
			want: Config{
				PluginPaths: []string{"/a", "/b"}, DefaultPluginPath: "/d",
				WhitelistList: []string{"/a/x"}, WhitelistRE: "/a/.*", WhitelistTags: []string{"t"},
				BlacklistList: []string{"/a/y"}, BlacklistRE: ".*bad", BlacklistTags: []string{"u"},
				ComponentTimeout:   5 * time.Second,
				OptionalComponents: map[string]ComponentConfig{"redis": {Load: "yes", Driver: "redis", Opts: Options{"host": "h", "nested": map[string]any{"key": []any{1, "two"}}}}},
			},
		},
		{
			name:    "a single value is a one-element list",
			section: "PLUGIN_PATHS: /one\nPLUGIN_WHITELIST_TAGS: 7\nPLUGIN_BLACKLIST_TAGS: true\n",
			want:    Config{PluginPaths: []string{"/one"}, WhitelistTags: []string{"7"}, BlacklistTags: []string{"true"}},
		},
		{
			name:    "empty strings and lists are empty",
			section: "PLUGIN_PATHS: ''\nPLUGIN_WHITELIST_LIST: []\nPLUGIN_WHITELIST_RE: ''\nPLUGIN_BLACKLIST_RE:\nOPTIONAL_COMPONENTS: {}\nCOMPONENT_TIMEOUT: ''\n",
			want:    Config{},
		},
		{
			name:    "list elements are stringified scalars",
			section: "PLUGIN_WHITELIST_TAGS: [a, 1, 2.5, false]\n",
			want:    Config{WhitelistTags: []string{"a", "1", "2.5", "false"}},
		},
		{
			name:    "a timeout in seconds",
			section: "COMPONENT_TIMEOUT: 3\n",
			want:    Config{ComponentTimeout: 3 * time.Second},
		},
		{
			name:    "a fractional timeout in seconds",
			section: "COMPONENT_TIMEOUT: 1.5\n",
			want:    Config{ComponentTimeout: 1500 * time.Millisecond},
		},
		{
			name:    "a timeout in seconds as a string",
			section: "COMPONENT_TIMEOUT: '2'\n",
			want:    Config{ComponentTimeout: 2 * time.Second},
		},
		{
			name:    "LOAD forms",
			section: "OPTIONAL_COMPONENTS:\n  a: {LOAD: true, DRIVER: d}\n  b: {LOAD: false}\n  c: {LOAD: Auto, DRIVER: d}\n  d: {DRIVER: d}\n  e: {LOAD: '', DRIVER: d}\n  f: {LOAD: NO, DRIVER: d}\n",
			want: Config{OptionalComponents: map[string]ComponentConfig{
				"a": {Load: "yes", Driver: "d"}, "b": {Load: "no"}, "c": {Load: "auto", Driver: "d"},
				"d": {Load: "auto", Driver: "d"}, "e": {Load: "auto", Driver: "d"}, "f": {Load: "no", Driver: "d"},
			}},
		},
		{
			name:    "an empty component with LOAD no only",
			section: "OPTIONAL_COMPONENTS:\n  a: {LOAD: no, OPTS: {}}\n",
			want:    Config{OptionalComponents: map[string]ComponentConfig{"a": {Load: "no", Opts: Options{}}}},
		},
		{
			name:    "keys outside the library's namespace are left to the host (kept for the settings fingerprint only)",
			section: "DATABASE_URL: x\nPLUGINS: y\nPLUGIN_PATHS: [/p]\nOPTIONAL_COMPONENTS:\n  a: {DRIVER: d, OPTS: {extra: 1}}\n",
			want: Config{PluginPaths: []string{"/p"}, OptionalComponents: map[string]ComponentConfig{"a": {Load: "auto", Driver: "d", Opts: Options{"extra": 1}}},
				hostSettings: map[string]any{"database_url": "x", "plugins": "y"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadWith(t, map[string]string{"a.yaml": "development:\n" + indent(tc.section)})
			require.NoError(t, err)
			assert.Equal(t, tc.want, c)
		})
	}
}

// indent indents YAML by two spaces, to put it under a section.
func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

// TestLoadConfigOptsAreCopies checks that a Config shares no map with the
// settings written back into viper.
func TestLoadConfigOptsAreCopies(t *testing.T) {
	v := viper.New()
	dir := writeSettings(t, map[string]string{"a.yaml": "development:\n  OPTIONAL_COMPONENTS: {a: {DRIVER: d, OPTS: {m: {k: v}}}}\n"})
	c, err := loadConfig(v, []string{envSettingsDir + "=" + dir})
	require.NoError(t, err)
	c.OptionalComponents["a"].Opts["m"].(map[string]any)["k"] = "changed"
	assert.Equal(t, "v", v.GetString("optional_components.a.opts.m.k"))
}
