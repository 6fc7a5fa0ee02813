package opa

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSettingsFingerprint: the settings fingerprint leaves out what differs
// per instance by design (a listen address, the copy directory), does not
// see secrets' values, and changes when a filter changes, naming the key.
func TestSettingsFingerprint(t *testing.T) {
	dir := t.TempDir()
	load := func(env ...string) (string, map[string]string) {
		t.Helper()
		c, err := loadConfig(nil, append([]string{"OPA_SETTINGS_DIR=" + dir, "OPA_PLUGIN_PATHS=plugins"}, env...))
		require.NoError(t, err)
		return c.settingsFingerprint()
	}
	base, baseKeys := load("OPA_LISTEN_ADDR=127.0.0.1:8080", "OPA_DB_PASSWORD=one")
	for _, tc := range []struct {
		name    string
		env     []string
		changed string // the key that differs; "" for none
	}{
		{"another listen address", []string{"OPA_LISTEN_ADDR=10.0.0.6:9090", "OPA_DB_PASSWORD=one"}, ""},
		{"another admin port and copy directory", []string{"OPA_LISTEN_ADDR=127.0.0.1:8080", "OPA_DB_PASSWORD=one", "OPA_ADMIN_PORT=9999", "OPA_PLUGIN_COPY_DIR=/srv/copies"}, ""},
		{"another secret", []string{"OPA_LISTEN_ADDR=127.0.0.1:8080", "OPA_DB_PASSWORD=two"}, ""},
		{"a filter", []string{"OPA_LISTEN_ADDR=127.0.0.1:8080", "OPA_DB_PASSWORD=one", "OPA_PLUGIN_BLACKLIST_LIST=plugins/hello"}, "PLUGIN_BLACKLIST_LIST"},
		{"a host setting", []string{"OPA_LISTEN_ADDR=127.0.0.1:8080", "OPA_DB_PASSWORD=one", "OPA_GREETING=hi"}, "GREETING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp, keys := load(tc.env...)
			if tc.changed == "" {
				assert.Equal(t, base, fp)
				assert.Equal(t, baseKeys, keys)
				return
			}
			assert.NotEqual(t, base, fp)
			var differ []string
			for k, v := range keys {
				if baseKeys[k] != v {
					differ = append(differ, k)
				}
			}
			assert.Equal(t, []string{tc.changed}, differ)
		})
	}
	assert.NotContains(t, baseKeys, "LISTEN_ADDR")
	assert.Contains(t, baseKeys, "DB_PASSWORD", "a secret counts, as [REDACTED]")
}
