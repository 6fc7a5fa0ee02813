package opa

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/viper"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The typos of issue 19, each in a settings file, an OPA_ variable and a
// host's viper: every one stops LoadConfig with an error naming the layer,
// the key and the closest known key.
func TestLoadConfigUnknownSettings(t *testing.T) {
	typos := []struct {
		name    string
		yaml    string // under the default section
		env     string
		viper   func(v *viper.Viper)
		key     string // ConfigError.Key
		message string // after "opa: config SOURCE: "
	}{
		{
			name:    "PLUGIN_PATH",
			yaml:    "PLUGIN_PATH: /srv/plugins",
			env:     "OPA_PLUGIN_PATH=/srv/plugins",
			viper:   func(v *viper.Viper) { v.Set("PLUGIN_PATH", "/srv/plugins") },
			key:     "PLUGIN_PATH",
			message: "unknown setting PLUGIN_PATH (did you mean PLUGIN_PATHS?)",
		},
		{
			name:    "PLUGIN_WHITELIST_TAG",
			yaml:    "PLUGIN_WHITELIST_TAG: [web]",
			env:     `OPA_PLUGIN_WHITELIST_TAG=["web"]`,
			viper:   func(v *viper.Viper) { v.SetDefault("plugin_whitelist_tag", []string{"web"}) },
			key:     "PLUGIN_WHITELIST_TAG",
			message: "unknown setting PLUGIN_WHITELIST_TAG (did you mean PLUGIN_WHITELIST_TAGS?)",
		},
		{
			name:  "LAOD",
			yaml:  "OPTIONAL_COMPONENTS:\n  cache: {DRIVER: redis, LAOD: no}",
			env:   "OPA_OPTIONAL_COMPONENTS__CACHE__LAOD=no",
			viper: func(v *viper.Viper) { v.Set("optional_components.cache.laod", "no") },
			key:   "OPTIONAL_COMPONENTS.CACHE.LAOD",
			// No DRIVER in the variable and viper cases: the unknown key is
			// reported before the missing DRIVER.
			message: "unknown setting OPTIONAL_COMPONENTS.CACHE.LAOD (did you mean LOAD?)",
		},
	}
	for _, tc := range typos {
		t.Run(tc.name+" in a file", func(t *testing.T) {
			dir := writeSettings(t, map[string]string{"opa.yaml": "default:\n" + indent(tc.yaml)})
			_, err := loadConfig(nil, []string{envSettingsDir + "=" + dir})
			source := filepath.Join(dir, "opa.yaml") + " [default]"
			assertUnknown(t, err, source, tc.key, tc.message)
		})
		t.Run(tc.name+" in a variable", func(t *testing.T) {
			_, err := loadWith(t, nil, tc.env)
			name, _, _ := strings.Cut(tc.env, "=")
			assertUnknown(t, err, "env "+name, tc.key, tc.message)
		})
		t.Run(tc.name+" through WithViper", func(t *testing.T) {
			v := viper.New()
			tc.viper(v)
			dir := t.TempDir()
			t.Setenv(envSettingsDir, dir)
			_, err := New(WithViper(v))
			assertUnknown(t, err, "viper", tc.key, tc.message)
		})
	}
}

// assertUnknown checks that err is the ConfigError of one unknown setting.
func assertUnknown(t *testing.T, err error, source, key, message string) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, "opa: config "+source+": "+message, err.Error())
	assert.ErrorIs(t, err, ErrConfig)
	ce, ok := errors.AsType[*ConfigError](err)
	require.True(t, ok, "%T", err)
	assert.Equal(t, source, ce.Source)
	assert.Equal(t, key, ce.Key)
}

func TestLoadConfigUnknownSettingSources(t *testing.T) {
	t.Run("a key a lower layer set is named with that layer", func(t *testing.T) {
		v := viper.New()
		v.Set("plugin_whitelist_tag", "web")
		dir := writeSettings(t, map[string]string{"a.yaml": "default:\n  PLUGIN_PATHS: [/srv/plugins]\n"})
		_, err := loadConfig(v, []string{envSettingsDir + "=" + dir, "OPA_PLUGIN_BLACKLIST_TAGS=beta"})
		assertUnknown(t, err, "viper", "PLUGIN_WHITELIST_TAG", "unknown setting PLUGIN_WHITELIST_TAG (did you mean PLUGIN_WHITELIST_TAGS?)")
	})
	t.Run("a component key a file set, under a variable that refines the component", func(t *testing.T) {
		dir := writeSettings(t, map[string]string{"a.yaml": "production:\n  OPTIONAL_COMPONENTS:\n    cache: {DRIVER: redis, LAOD: no}\n"})
		_, err := loadConfig(nil, []string{envSettingsDir + "=" + dir, "ENV=production", "OPA_OPTIONAL_COMPONENTS__CACHE__DRIVER=memcache"})
		assertUnknown(t, err, filepath.Join(dir, "a.yaml")+" [production]", "OPTIONAL_COMPONENTS.CACHE.LAOD", "unknown setting OPTIONAL_COMPONENTS.CACHE.LAOD (did you mean LOAD?)")
	})
	t.Run("a key a higher layer replaced is gone", func(t *testing.T) {
		dir := writeSettings(t, map[string]string{"a.yaml": "default:\n  OPTIONAL_COMPONENTS:\n    cache: {DRIVER: redis, LAOD: no}\n"})
		c, err := loadConfig(nil, []string{envSettingsDir + "=" + dir, `OPA_OPTIONAL_COMPONENTS={"cache": {"DRIVER": "redis", "LOAD": "no"}}`})
		require.NoError(t, err)
		assert.Equal(t, "no", c.OptionalComponents["cache"].Load)
	})
	t.Run("every unknown key is reported, in key order", func(t *testing.T) {
		_, err := loadWith(t, nil, "OPA_PLUGIN_PATH=/p", "OPA_OPTIONAL_COMPONENTS__A__DRIVR=d", "OPA_PLUGIN_FOO=1")
		require.Error(t, err)
		assert.Equal(t, "opa: config env OPA_PLUGIN_FOO: unknown setting PLUGIN_FOO (known here: "+strings.Join(settingNames, ", ")+")\n"+
			"opa: config env OPA_PLUGIN_PATH: unknown setting PLUGIN_PATH (did you mean PLUGIN_PATHS?)\n"+
			"opa: config env OPA_OPTIONAL_COMPONENTS__A__DRIVR: unknown setting OPTIONAL_COMPONENTS.A.DRIVR (did you mean DRIVER?)", err.Error())
		assert.ErrorIs(t, err, ErrConfig)
	})
}

// Keys outside the library's namespace are the host's: never reported, in
// any layer, and written back into the host's viper.
func TestLoadConfigHostKeysStaySilent(t *testing.T) {
	v := viper.New()
	v.SetDefault("my_app_setting", "viper")
	v.Set("my_viper_setting", 1)
	dir := writeSettings(t, map[string]string{"a.yaml": `default:
  MY_APP_SETTING: file
  MY_FILE_SETTING: {nested: {deep: 1}}
  PLUGINS: not ours
  PLUGIN_SHA256: {fullname: ` + strings.Repeat("ab", 32) + `}
  OPTIONAL_COMPONENTS:
    cache: {DRIVER: redis, OPTS: {url: "redis://x", anything_else: 1}}
`})
	c, err := loadConfig(v, []string{envSettingsDir + "=" + dir, "OPA_MY_APP_SETTING=env", "OPA_MY_APP__NESTED=1",
		"OPA_PLUGIN_SHA256__HELLO=" + strings.Repeat("cd", 32), "OPA_OPTIONAL_COMPONENTS__CACHE__OPTS__POOL=3"})
	require.NoError(t, err)
	assert.Equal(t, "env", v.GetString("my_app_setting"))
	assert.Equal(t, 1, v.GetInt("my_viper_setting"))
	assert.Equal(t, 1, v.GetInt("my_file_setting.nested.deep"))
	assert.Equal(t, 1, v.GetInt("my_app.nested"))
	assert.Equal(t, "not ours", v.GetString("plugins"))
	assert.Len(t, c.PluginSHA256, 2)
	assert.Equal(t, Options{"url": "redis://x", "anything_else": 1, "pool": 3}, c.OptionalComponents["cache"].Opts)
}

// The example's settings, which use dynaconf_merge inside
// OPTIONAL_COMPONENTS and a component, hold no unknown key in any section.
func TestExampleSettingsAreKnown(t *testing.T) {
	for _, env := range []string{"development", "production"} {
		t.Run(env, func(t *testing.T) {
			_, err := loadConfig(nil, []string{envSettingsDir + "=examples/settings", "ENV=" + env})
			assert.NoError(t, err)
		})
	}
}

// The README's settings table lists exactly the settings the library knows,
// and its OPTIONAL_COMPONENTS row names the keys of a component.
func TestSettingsTableMatchesREADME(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(b), "\n## Configuration\n")
	require.True(t, ok, "README.md has no Configuration section")
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` \\|(.*)$")
	var names []string
	var componentsRow string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		names = append(names, m[1])
		if m[1] == "OPTIONAL_COMPONENTS" {
			componentsRow = m[2]
		}
	}
	assert.ElementsMatch(t, settingNames, names, "settingNames (config_keys.go) and the README's settings table differ")
	assert.Len(t, slices.Compact(slices.Sorted(slices.Values(names))), len(names), "a setting is listed twice")
	for _, k := range componentKeys {
		assert.Contains(t, componentsRow, k, "the OPTIONAL_COMPONENTS row of the README's table does not name %s", k)
	}
}

func TestCheckOpts(t *testing.T) {
	opts := Options{"url": "redis://x", "pool_size": 3}
	assert.NoError(t, checkOpts("cache", opts, nil), "nil accepts any key")
	assert.NoError(t, checkOpts("cache", opts, []string{"URL", "POOL_SIZE", "DB"}), "keys compare case-insensitively")
	assert.NoError(t, checkOpts("cache", nil, []string{}))

	err := checkOpts("cache", Options{"urll": "redis://x"}, []string{"url", "db"})
	assert.EqualError(t, err, "opa: config: unknown setting OPTIONAL_COMPONENTS.CACHE.OPTS.URLL (did you mean URL?)")
	assert.ErrorIs(t, err, ErrConfig)
	ce, ok := errors.AsType[*ConfigError](err)
	require.True(t, ok)
	assert.Equal(t, "OPTIONAL_COMPONENTS.CACHE.OPTS.URLL", ce.Key)
	assert.NotContains(t, err.Error(), "redis://x", "values are never quoted")

	err = checkOpts("cache", Options{"password": "secret"}, []string{"url", "db"})
	assert.EqualError(t, err, "opa: config: unknown setting OPTIONAL_COMPONENTS.CACHE.OPTS.PASSWORD (known here: URL, DB)")
	err = checkOpts("cache", Options{"x": 1}, []string{})
	assert.EqualError(t, err, "opa: config: unknown setting OPTIONAL_COMPONENTS.CACHE.OPTS.X (none is accepted here)")
}
