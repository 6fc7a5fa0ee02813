package opa

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTrustPaths(t *testing.T) {
	assert.Equal(t, []string{"/p/x.so", "/p"}, trustPaths("/p/x.so", "/p"))
	assert.Equal(t, []string{"/p/x/plugin.so", "/p/x", "/p"}, trustPaths("/p/x/plugin.so", "/p/"))
	assert.Equal(t, []string{"p/x.so", "p"}, trustPaths("p/x.so", "./p"))
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no mode bits")
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, file string)
		want  string // "" passes
	}{
		{"owner-writable only", func(t *testing.T, f string) {}, ""},
		{"world-writable file", func(t *testing.T, f string) { require.NoError(t, os.Chmod(f, 0o666)) },
			"is writable by every user (mode 0666, bit o+w): run chmod o-w "},
		{"world-writable directory", func(t *testing.T, f string) { require.NoError(t, os.Chmod(filepath.Dir(f), 0o777)) },
			"is writable by every user (mode 0777, bit o+w)"},
		{"group-writable, the owner's own group", func(t *testing.T, f string) {
			gid, err := primaryGroup(uint32(os.Getuid()))
			require.NoError(t, err)
			require.NoError(t, os.Chown(f, os.Getuid(), int(gid)))
			require.NoError(t, os.Chmod(f, 0o664))
		}, ""},
		{"group-writable, another group", func(t *testing.T, f string) {
			requireRoot(t)
			require.NoError(t, os.Chown(f, os.Getuid(), 54321))
			require.NoError(t, os.Chmod(f, 0o664))
		}, "is writable by group 54321, which is not its owner's own group (mode 0664, bit g+w)"},
		{"owned by another non-root user", func(t *testing.T, f string) {
			requireRoot(t)
			require.NoError(t, os.Chown(f, 54321, 54321))
		}, "is owned by another user (uid 54321"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "p")
			file := filepath.Join(dir, "x.so")
			writeFile(t, file, "x")
			require.NoError(t, os.Chmod(dir, 0o755))
			require.NoError(t, os.Chmod(file, 0o644))
			tc.setup(t, file)
			err := Config{}.checkTrust("x", file, dir)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "PLUGIN_ALLOW_INSECURE_PERMISSIONS")
			assert.NoError(t, Config{AllowInsecurePermissions: true}.checkTrust("x", file, dir), "the setting turns the check off")
		})
	}
}

func requireRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to chown")
	}
}

func TestPins(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x.so")
	writeFile(t, file, "plugin bytes")
	sum := sha256.Sum256([]byte("plugin bytes"))
	good := hex.EncodeToString(sum[:])
	bad := hex.EncodeToString(make([]byte, 32))
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no pin", Config{}, ""},
		{"matching pin", Config{PluginSHA256: map[string]string{"x": good}}, ""},
		{"matching pin, upper-case hex and spaces", Config{PluginSHA256: map[string]string{"x": " " + strings.ToUpper(good) + "\n"}}, ""},
		{"pin of another plugin", Config{PluginSHA256: map[string]string{"y": bad}}, ""},
		{"wrong pin", Config{PluginSHA256: map[string]string{"x": bad}}, "SHA-256 mismatch: the file is " + good + ", PLUGIN_SHA256.x pins " + bad},
		{"malformed pin", Config{PluginSHA256: map[string]string{"x": "abc"}}, "PLUGIN_SHA256.x is not a SHA-256 in hex"},
		{"required and missing", Config{RequireSHA256: true}, "no SHA-256 pin, and PLUGIN_REQUIRE_SHA256 is set: add PLUGIN_SHA256.x"},
		{"required and present", Config{RequireSHA256: true, PluginSHA256: map[string]string{"x": good}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.checkPin("x", file)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
