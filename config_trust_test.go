package opa

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/viper"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/testenv"
)

func TestLoadConfigSafeLoadingSettings(t *testing.T) {
	abc, def := strings.Repeat("ab", 32), strings.Repeat("de", 32)
	c, err := loadWith(t, map[string]string{"a.yaml": "development:\n" + indent(
		"PLUGIN_ON_ERROR: Skip\nPLUGIN_REQUIRE_SHA256: 'yes'\nPLUGIN_SHA256: {Hello: "+abc+"}\n")})
	require.NoError(t, err)
	assert.Equal(t, Config{OnError: "skip", RequireSHA256: true, PluginSHA256: map[string]string{"hello": abc}}, c)

	c, err = loadConfig(nil, []string{envSettingsDir + "=" + t.TempDir(), "OPA_PLUGIN_ON_ERROR=fail", "OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=false", "OPA_PLUGIN_SHA256__X=" + def})
	require.NoError(t, err)
	assert.Equal(t, Config{OnError: "fail", PluginSHA256: map[string]string{"x": def}}, c)

	// A pin that is no SHA-256 is a config error naming it, whether or not
	// a plugin of its name is found.
	_, err = loadConfig(nil, []string{envSettingsDir + "=" + t.TempDir(), "OPA_PLUGIN_SHA256__X=def"})
	require.ErrorIs(t, err, ErrConfig)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "env OPA_PLUGIN_SHA256__X", ce.Source, "the error names where the pin came from")
	assert.Equal(t, "PLUGIN_SHA256.X", ce.Key)
	assert.Contains(t, err.Error(), `"def" is not a SHA-256 in hex (64 characters, as sha256sum prints it)`)

	c, err = loadConfig(nil, []string{envSettingsDir + "=" + t.TempDir(), "OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=true"})
	require.NoError(t, err)
	assert.Equal(t, Config{AllowInsecurePermissions: true}, c)

	for _, tc := range []struct{ env, key, msg string }{
		{"OPA_PLUGIN_ON_ERROR=ignore", "PLUGIN_ON_ERROR", `invalid PLUGIN_ON_ERROR "ignore": want fail or skip`},
		{"OPA_PLUGIN_REQUIRE_SHA256=maybe", "PLUGIN_REQUIRE_SHA256", "where true or false belongs"},
		{"OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=maybe", "PLUGIN_ALLOW_INSECURE_PERMISSIONS", "a string where true or false belongs"},
		{"OPA_PLUGIN_SHA256=abc", "PLUGIN_SHA256", "where a map of NAME: VALUE belongs"},
		{`OPA_PLUGIN_SHA256={"x": 1}`, "PLUGIN_SHA256.X", "where a string belongs"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			_, err := loadConfig(nil, []string{envSettingsDir + "=" + t.TempDir(), tc.env})
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrConfig))
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.key, ce.Key)
			assert.Contains(t, ce.Source, "OPA_")
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
	assert.ErrorIs(t, Config{OnError: "later"}.validate(), ErrConfig)
}

// TestAllowInsecureIsEnvOnly: a settings file or a host's viper that sets
// PLUGIN_ALLOW_INSECURE_PERMISSIONS (even to false) is a config error naming
// where it was set; only the OPA_ variable turns the checks off.
func TestAllowInsecureIsEnvOnly(t *testing.T) {
	const want = "PLUGIN_ALLOW_INSECURE_PERMISSIONS: can only be set by the environment variable OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS, so that a settings file cannot turn off the permission check of its own file"
	for _, value := range []string{"true", "false"} {
		t.Run("settings file "+value, func(t *testing.T) {
			dir := writeSettings(t, map[string]string{"a.yaml": "development:\n  PLUGIN_ALLOW_INSECURE_PERMISSIONS: " + value + "\n"})
			_, err := loadConfig(nil, []string{envSettingsDir + "=" + dir})
			require.ErrorIs(t, err, ErrConfig)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, filepath.Join(dir, "a.yaml")+" [development]", ce.Source)
			assert.Contains(t, err.Error(), want)
		})
	}
	t.Run("viper", func(t *testing.T) {
		v := viper.New()
		v.Set("plugin_allow_insecure_permissions", true)
		_, err := loadConfig(v, []string{envSettingsDir + "=" + t.TempDir()})
		require.ErrorIs(t, err, ErrConfig)
		assert.Contains(t, err.Error(), "opa: config viper: "+want)
	})
	t.Run("the variable overrides a file, still refused", func(t *testing.T) {
		// The variable's value wins, so the file's says nothing: allowed.
		dir := writeSettings(t, map[string]string{"a.yaml": "development:\n  PLUGIN_ALLOW_INSECURE_PERMISSIONS: true\n"})
		c, err := loadConfig(nil, []string{envSettingsDir + "=" + dir, "OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=false"})
		require.NoError(t, err)
		assert.False(t, c.AllowInsecurePermissions)
	})
}

// TestLoadConfigSettingsPermissions: the settings directory and each
// settings file decide which code runs, so the permission rule applies to
// them, up to /, unless OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS is true.
func TestLoadConfigSettingsPermissions(t *testing.T) {
	testenv.Unix(t)
	const override = ", or set OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=true for development"
	settingsFile := "development:\n  PLUGIN_PATHS: /p\n"
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) // dir holds a.yaml
		want  string                         // "" loads; DIR/ stands for dir
	}{
		{"files 0644 in a 0755 directory", func(t *testing.T, dir string) {}, ""},
		{"a settings file mode 0666", func(t *testing.T, dir string) {
			require.NoError(t, os.Chmod(filepath.Join(dir, "a.yaml"), 0o666))
		}, "opa: config DIR/a.yaml: trust: DIR/a.yaml is writable by every user (mode 0666, bit o+w), so anyone can change it: run chmod o-w DIR/a.yaml" + override},
		{"a settings directory mode 0777", func(t *testing.T, dir string) {
			require.NoError(t, os.Chmod(dir, 0o777))
		}, "opa: config DIR: trust: DIR is writable by every user (mode 0777, no sticky bit), so anyone can change it: run chmod o-w DIR" + override},
		{"an ancestor mode 0777", func(t *testing.T, dir string) {
			require.NoError(t, os.Chmod(filepath.Dir(dir), 0o777))
		}, "trust: PARENT is writable by every user (mode 0777, no sticky bit), so anyone can replace DIR: run chmod o-w PARENT" + override},
		{"an ancestor mode 1777", func(t *testing.T, dir string) {
			require.NoError(t, os.Chmod(filepath.Dir(dir), 0o777|os.ModeSticky))
		}, ""},
		{"a settings file symlinked from a 0777 directory", func(t *testing.T, dir string) {
			shared := filepath.Join(filepath.Dir(dir), "shared")
			require.NoError(t, os.Mkdir(shared, 0o755))
			require.NoError(t, os.Rename(filepath.Join(dir, "a.yaml"), filepath.Join(shared, "a.yaml")))
			require.NoError(t, os.Chmod(shared, 0o777))
			require.NoError(t, os.Symlink(filepath.Join(shared, "a.yaml"), filepath.Join(dir, "a.yaml")))
		}, "trust: PARENT/shared is writable by every user (mode 0777, no sticky bit), so anyone can replace PARENT/shared/a.yaml, the target of the symlink DIR/a.yaml: run chmod o-w PARENT/shared" + override},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "settings")
			require.NoError(t, os.Mkdir(dir, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(settingsFile), 0o644))
			tc.setup(t, dir)
			c, err := loadConfig(nil, []string{envSettingsDir + "=" + dir})
			if tc.want == "" {
				require.NoError(t, err)
				assert.Equal(t, []string{"/p"}, c.PluginPaths)
				return
			}
			require.ErrorIs(t, err, ErrConfig)
			want := tc.want
			for _, r := range [][2]string{{"PARENT", filepath.Dir(dir)}, {"DIR", dir}} {
				want = strings.ReplaceAll(want, r[0], r[1])
			}
			assert.Contains(t, err.Error(), want)

			c, err = loadConfig(nil, []string{envSettingsDir + "=" + dir, "OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=true"})
			require.NoError(t, err, "the development override turns the check off")
			assert.Equal(t, []string{"/p"}, c.PluginPaths)
		})
	}
}
