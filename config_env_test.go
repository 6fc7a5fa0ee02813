package opa

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
			assert.Equal(t, ComponentConfig{Load: "yes", Driver: "redis", Opts: Options{"db": 2, "host": "h"}}, c.OptionalComponents["redis"], "merged all the way down")
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
