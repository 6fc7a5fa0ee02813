package opa

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseEnvValue(t *testing.T) {
	tests := []struct {
		raw   string
		want  any
		merge bool
	}{
		{"/plugins", "/plugins", false},
		{"", "", false},
		{`["/a","/b"]`, []any{"/a", "/b"}, false},
		{` [1, 2.5, true, null] `, []any{1, 2.5, true, nil}, false},
		{`{"Redis": {"LOAD": "no", "PORT": 6379}}`, map[string]any{"redis": map[string]any{"load": "no", "port": 6379}}, false},
		{"true", true, false},
		{"FALSE", false, false},
		{"True", true, false},
		{"42", 42, false},
		{"-7", -7, false},
		{"+7", 7, false},
		{"0", 0, false},
		{"007", "007", false},
		{"1.5", "1.5", false},
		{"99999999999999999999", "99999999999999999999", false},
		{"1_000", "1_000", false},
		{"--1", "--1", false},
		{"@str true", "true", false},
		{"@str [not json]", "[not json]", false},
		{"@str", "", false},
		{"@str  two spaces", " two spaces", false},
		{"@int 5", 5, false},
		{"@float 2.5", 2.5, false},
		{"@bool yes", true, false},
		{"@bool nope", false, false},
		{`@json {"a": 1}`, map[string]any{"a": 1}, false},
		{"@none", nil, false},
		{"@unknown x", "@unknown x", false},
		{"@merge /p", []any{"/p"}, true},
		{"@merge a,b", []any{"a", "b"}, true},
		{"@merge  a , b ,, ", []any{"a", "b"}, true},
		{"@merge 5", []any{5}, true},
		{"@merge", []any{}, true},
		{`@merge ["x", "y"]`, []any{"x", "y"}, true},
		{`@merge {"load": "no"}`, map[string]any{"load": "no"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			got, merge, err := parseEnvValue(tc.raw, []string{"k"})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.merge, merge)
		})
	}
	for _, raw := range []string{"[", `{"a": }`, "[1] x", "@merge [", "@json", "@int x", "@float x", `{"A": 1, "a": 2}`} {
		t.Run("error "+raw, func(t *testing.T) {
			_, _, err := parseEnvValue(raw, []string{"plugin_paths"})
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), "PLUGIN_PATHS")
		})
	}
}

func TestLoadConfigEnv(t *testing.T) {
	files := map[string]string{"a.yaml": `development:
  PLUGIN_PATHS: [/file]
  OPTIONAL_COMPONENTS:
    redis: {LOAD: yes, DRIVER: redis, OPTS: {host: h}}
    mongo: {DRIVER: mongo}
`}
	redis := ComponentConfig{Load: "yes", Driver: "redis", Opts: Options{"host": "h"}}
	mongo := ComponentConfig{Load: "auto", Driver: "mongo"}
	tests := []struct {
		name  string
		env   []string
		check func(t *testing.T, c Config)
	}{
		{"one path", []string{"OPA_PLUGIN_PATHS=/plugins"}, func(t *testing.T, c Config) {
			assert.Equal(t, []string{"/plugins"}, c.PluginPaths)
		}},
		{"a JSON list", []string{`OPA_PLUGIN_PATHS=["/a","/b"]`}, func(t *testing.T, c Config) {
			assert.Equal(t, []string{"/a", "/b"}, c.PluginPaths)
		}},
		{"@merge one path", []string{"OPA_PLUGIN_PATHS=@merge /p"}, func(t *testing.T, c Config) {
			assert.Equal(t, []string{"/file", "/p"}, c.PluginPaths)
		}},
		{"@merge two items", []string{"OPA_PLUGIN_PATHS=@merge a,b"}, func(t *testing.T, c Config) {
			assert.Equal(t, []string{"/file", "a", "b"}, c.PluginPaths)
		}},
		{"a JSON list with the marker", []string{`OPA_PLUGIN_PATHS=["dynaconf_merge", "/j"]`}, func(t *testing.T, c Config) {
			assert.Equal(t, []string{"/file", "/j"}, c.PluginPaths)
		}},
		{"an empty value is an empty list", []string{"OPA_PLUGIN_PATHS="}, func(t *testing.T, c Config) {
			assert.Nil(t, c.PluginPaths)
		}},
		{"__ nests into a component from a file", []string{"OPA_OPTIONAL_COMPONENTS__REDIS__LOAD=no"}, func(t *testing.T, c Config) {
			assert.Equal(t, map[string]ComponentConfig{"redis": {Load: "no", Driver: "redis", Opts: Options{"host": "h"}}, "mongo": mongo}, c.OptionalComponents)
		}},
		{"__ nests into OPTS", []string{"OPA_OPTIONAL_COMPONENTS__REDIS__OPTS__PORT=6380", "OPA_OPTIONAL_COMPONENTS__REDIS__OPTS__TLS=true"}, func(t *testing.T, c Config) {
			assert.Equal(t, Options{"host": "h", "port": 6380, "tls": true}, c.OptionalComponents["redis"].Opts)
		}},
		{"__ adds a component", []string{"OPA_OPTIONAL_COMPONENTS__Cache__DRIVER=memcached"}, func(t *testing.T, c Config) {
			assert.Equal(t, map[string]ComponentConfig{"redis": redis, "mongo": mongo, "cache": {Load: "auto", Driver: "memcached"}}, c.OptionalComponents)
		}},
		{"one JSON object sets all components", []string{`OPA_OPTIONAL_COMPONENTS={"Cache": {"LOAD": "NO"}}`}, func(t *testing.T, c Config) {
			assert.Equal(t, map[string]ComponentConfig{"cache": {Load: "no"}}, c.OptionalComponents)
		}},
		{"nested variables refine the JSON object", []string{`OPA_OPTIONAL_COMPONENTS__CACHE__DRIVER=m`, `OPA_OPTIONAL_COMPONENTS={"cache": {"load": "yes"}}`}, func(t *testing.T, c Config) {
			assert.Equal(t, map[string]ComponentConfig{"cache": {Load: "yes", Driver: "m"}}, c.OptionalComponents)
		}},
		{"@merge a JSON object", []string{`OPA_OPTIONAL_COMPONENTS=@merge {"cache": {"load": "no"}}`}, func(t *testing.T, c Config) {
			assert.Equal(t, map[string]ComponentConfig{"redis": redis, "mongo": mongo, "cache": {Load: "no"}}, c.OptionalComponents)
		}},
		{"a JSON object with the marker", []string{`OPA_OPTIONAL_COMPONENTS__REDIS={"dynaconf_merge": true, "opts": {"db": 2}}`}, func(t *testing.T, c Config) {
			assert.Equal(t, ComponentConfig{Load: "yes", Driver: "redis", Opts: Options{"db": 2}}, c.OptionalComponents["redis"])
		}},
		{"booleans mean yes and no", []string{"OPA_OPTIONAL_COMPONENTS__REDIS__LOAD=False", "OPA_OPTIONAL_COMPONENTS__MONGO__LOAD=TRUE"}, func(t *testing.T, c Config) {
			assert.Equal(t, "no", c.OptionalComponents["redis"].Load)
			assert.Equal(t, "yes", c.OptionalComponents["mongo"].Load)
		}},
		{"@str keeps a string", []string{"OPA_OPTIONAL_COMPONENTS__REDIS__OPTS__PASSWORD=@str 123"}, func(t *testing.T, c Config) {
			assert.Equal(t, "123", c.OptionalComponents["redis"].Opts["password"])
		}},
		{"scalars in string settings", []string{"OPA_PLUGIN_DEFAULT_PATH=42", "OPA_PLUGIN_WHITELIST_RE=true"}, func(t *testing.T, c Config) {
			assert.Equal(t, "42", c.DefaultPluginPath)
			assert.Equal(t, "true", c.WhitelistRE)
		}},
		{"lower-case names work too", []string{"OPA_plugin_whitelist_list=x"}, func(t *testing.T, c Config) {
			assert.Equal(t, []string{"x"}, c.WhitelistList)
		}},
		{"OPA_SETTINGS_DIR and other variables are not settings", []string{"ENV=development", "OPA=x", "XOPA_PLUGIN_PATHS=/x", "opa_plugin_paths=/y"}, func(t *testing.T, c Config) {
			assert.Equal(t, []string{"/file"}, c.PluginPaths)
		}},
		{"the first of duplicate variables wins", []string{"OPA_PLUGIN_PATHS=/first", "OPA_PLUGIN_PATHS=/second"}, func(t *testing.T, c Config) {
			assert.Equal(t, []string{"/first"}, c.PluginPaths)
		}},
		{"@none unsets", []string{"OPA_OPTIONAL_COMPONENTS=@none"}, func(t *testing.T, c Config) {
			assert.Nil(t, c.OptionalComponents)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadWith(t, files, tc.env...)
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}
