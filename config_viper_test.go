package opa

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/viper"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadConfigViper(t *testing.T) {
	t.Run("viper settings are the lowest layer", func(t *testing.T) {
		v := viper.New()
		v.SetDefault("plugin_default_path", "/from-default")
		v.Set("plugin_paths", []string{"/host"})
		v.Set("plugin_whitelist_tags", "t")
		dir := writeSettings(t, map[string]string{"a.yaml": "development:\n  PLUGIN_PATHS: [/file, dynaconf_merge]\n"})
		c, err := loadConfig(v, []string{envSettingsDir + "=" + dir, "OPA_PLUGIN_PATHS=@merge /env"})
		require.NoError(t, err)
		assert.Equal(t, []string{"/host", "/file", "/env"}, c.PluginPaths)
		assert.Equal(t, "/from-default", c.DefaultPluginPath)
		assert.Equal(t, []string{"t"}, c.WhitelistTags)
	})
	t.Run("merged settings are written back", func(t *testing.T) {
		v := viper.New()
		v.SetDefault("database_url", "sqlite://default")
		v.SetDefault("workers", 1)
		dir := writeSettings(t, map[string]string{"a.yaml": "default:\n  DATABASE_URL: postgres://file\n  CACHE: {ttl: 5}\ndevelopment:\n  WORKERS: 4\n"})
		_, err := loadConfig(v, []string{envSettingsDir + "=" + dir, "OPA_CACHE__SIZE=10", "OPA_SETTINGS_DIR_NOT=x"})
		require.NoError(t, err)
		assert.Equal(t, "postgres://file", v.GetString("database_url"))
		assert.Equal(t, 4, v.GetInt("workers"))
		assert.Equal(t, 5, v.GetInt("cache.ttl"))
		assert.Equal(t, 10, v.GetInt("cache.size"))
		assert.Equal(t, "x", v.GetString("settings_dir_not"))
		assert.False(t, v.IsSet("settings_dir"), "OPA_SETTINGS_DIR is not a setting")
	})
	t.Run("nothing is written back on error", func(t *testing.T) {
		v := viper.New()
		_, err := loadConfig(v, []string{envSettingsDir + "=" + t.TempDir(), "OPA_HOST_KEY=1", "OPA_PLUGIN_WHITELIST_RE=("})
		require.Error(t, err)
		assert.False(t, v.IsSet("host_key"))
	})
	t.Run("viper's own precedence stays", func(t *testing.T) {
		v := viper.New()
		v.Set("plugin_default_path", "/set")
		require.NoError(t, v.MergeConfigMap(map[string]any{"cache": map[string]any{"old": 1, "ttl": 2}}))
		dir := writeSettings(t, map[string]string{"a.yaml": "development:\n  PLUGIN_DEFAULT_PATH: /file\n  CACHE: {ttl: 3}\n"})
		c, err := loadConfig(v, []string{envSettingsDir + "=" + dir})
		require.NoError(t, err)
		assert.Equal(t, "/file", c.DefaultPluginPath)
		assert.Equal(t, "/set", v.GetString("plugin_default_path"), "a Set value outranks the config layer")
		assert.Equal(t, 3, v.GetInt("cache.ttl"))
		assert.Equal(t, 1, v.GetInt("cache.old"), "viper merges maps key by key")
	})
	t.Run("errors in viper's settings name viper", func(t *testing.T) {
		v := viper.New()
		v.Set("plugin_whitelist_re", "(")
		_, err := loadConfig(v, []string{envSettingsDir + "=" + t.TempDir()})
		require.ErrorIs(t, err, ErrConfig)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "viper", ce.Source)
		assert.Equal(t, "PLUGIN_WHITELIST_RE", ce.Key)
	})
	t.Run("nil viper", func(t *testing.T) {
		c, err := loadConfig(nil, []string{envSettingsDir + "=" + t.TempDir(), "OPA_PLUGIN_PATHS=/p"})
		require.NoError(t, err)
		assert.Equal(t, []string{"/p"}, c.PluginPaths)
	})
}

// TestLoadConfigProcessEnv runs the exported LoadConfig on the process
// environment, with every OPA_ variable and ENV of the real one removed for
// the test.
func TestLoadConfigProcessEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix) || name == envEnvironment {
			t.Setenv(name, "") // restores the old value after the test
			require.NoError(t, os.Unsetenv(name))
		}
	}
	dir := writeSettings(t, map[string]string{"a.yaml": "production:\n  PLUGIN_PATHS: [/prod]\n"})
	t.Setenv(envSettingsDir, dir)
	t.Setenv("ENV", "production")
	t.Setenv("OPA_PLUGIN_PATHS", "@merge /env")
	c, err := LoadConfig(nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"/prod", "/env"}, c.PluginPaths)
}

// TestWithViperLayering: a Manager made with WithViper(v) loads its config
// from v's settings as the lowest layer, then the settings files, then the
// OPA_ variables, as LoadConfig(v) does.
func TestWithViperLayering(t *testing.T) {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix) || name == envEnvironment {
			t.Setenv(name, "")
			require.NoError(t, os.Unsetenv(name))
		}
	}
	dir := writeSettings(t, map[string]string{"a.yaml": "development:\n  PLUGIN_PATHS: [/file, dynaconf_merge]\n  PLUGIN_BLACKLIST_RE: /file\n"})
	t.Setenv(envSettingsDir, dir)
	t.Setenv("OPA_PLUGIN_PATHS", "@merge /env")
	t.Setenv("OPA_PLUGIN_BLACKLIST_RE", "/env")
	v := viper.New()
	v.Set("plugin_paths", []string{"/host"})
	v.Set("plugin_default_path", "/host-default")
	v.Set("plugin_blacklist_re", "/host")
	m, err := New(WithViper(v))
	require.NoError(t, err)
	assert.Equal(t, []string{"/host", "/file", "/env"}, m.cfg.PluginPaths, "each layer appends with its merge marker")
	assert.Equal(t, "/host-default", m.cfg.DefaultPluginPath, "viper's value stays where no other layer sets one")
	assert.Equal(t, "/env", m.cfg.BlacklistRE, "the OPA_ variable outranks the file, which outranks viper")
	assert.Equal(t, []string{"/host", "/file", "/env", "/host-default"}, m.cfg.SearchPaths())
}
