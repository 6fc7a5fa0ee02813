package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// opa ls reads the settings a host reads, connection strings included:
// none of their secrets shows in its table, its JSON or its errors, also
// when the settings are invalid.
func TestLsShowsNoSecret(t *testing.T) {
	secrets := []string{"Hunter2Query", "Hunter2KeyVal", "Hunter2#Frag", "Hunter2", "Hunt/er2Slash", "x9Q"}
	for _, tc := range []struct {
		name, load string
		code       int
	}{{"valid settings", "auto", 0}, {"invalid settings", "maybe", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(root, "settings"), 0o755))
			require.NoError(t, os.MkdirAll(filepath.Join(root, "p"), 0o755))
			settings := `default:
  PLUGIN_PATHS: ["` + root + `/p"]
  OPTIONAL_COMPONENTS:
    query: {DRIVER: pg, LOAD: ` + tc.load + `, OPTS: {url: "postgres://app@db.internal:5432/app?sslmode=disable&password=Hunter2Query"}}
    keyval: {DRIVER: pg, OPTS: {dsn: "host=db.internal user=app password=Hunter2KeyVal dbname=app"}}
    frag: {DRIVER: redis, OPTS: {url: "redis://:Hunter2#Frag@cache.internal:6379/0"}}
    slash: {DRIVER: redis, OPTS: {url: "redis://:Hunt/er2Slash@cache.internal:6379/0"}}
    short: {DRIVER: redis, OPTS: {url: "redis://app:x9Q@cache.internal:6381/1", password: x9Q}}
`
			require.NoError(t, os.WriteFile(filepath.Join(root, "settings", "opa.yaml"), []byte(settings), 0o644))
			env := []string{"OPA_PLUGIN_DEFAULT_PATH=" + root + "/default"}
			for _, args := range [][]string{{"ls", "--settings", root + "/settings"}, {"ls", "--settings", root + "/settings", "--json"}} {
				res := runOpa(t, root, env, args...)
				assert.Equal(t, tc.code, res.code, "%v: %s%s", args, res.stdout, res.stderr)
				for _, secret := range secrets {
					out := strings.ReplaceAll(res.stdout+res.stderr, "[REDACTED", "")
					assert.NotContains(t, out, secret, "%v", args)
				}
			}
		})
	}
}
