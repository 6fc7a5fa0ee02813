package opa

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadConfigSafeLoadingSettings(t *testing.T) {
	c, err := loadWith(t, map[string]string{"a.yaml": "development:\n" + indent(
		"PLUGIN_ON_ERROR: Skip\nPLUGIN_ALLOW_INSECURE_PERMISSIONS: true\nPLUGIN_REQUIRE_SHA256: 'yes'\nPLUGIN_SHA256: {Hello: abc}\n")})
	require.NoError(t, err)
	assert.Equal(t, Config{OnError: "skip", AllowInsecurePermissions: true, RequireSHA256: true, PluginSHA256: map[string]string{"hello": "abc"}}, c)

	c, err = loadConfig(nil, []string{envSettingsDir + "=" + t.TempDir(), "OPA_PLUGIN_ON_ERROR=fail", "OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=false", "OPA_PLUGIN_SHA256__X=def"})
	require.NoError(t, err)
	assert.Equal(t, Config{OnError: "fail", PluginSHA256: map[string]string{"x": "def"}}, c)

	for _, tc := range []struct{ env, key, msg string }{
		{"OPA_PLUGIN_ON_ERROR=ignore", "PLUGIN_ON_ERROR", `invalid PLUGIN_ON_ERROR "ignore": want fail or skip`},
		{"OPA_PLUGIN_REQUIRE_SHA256=maybe", "PLUGIN_REQUIRE_SHA256", "where true or false belongs"},
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
