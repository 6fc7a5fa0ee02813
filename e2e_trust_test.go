package opa_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// The permission rule with real files and real plugins: symlinks are
// resolved and every directory up to / is checked, for .so files, meta.json
// files and settings (see internal/trust). Each case lays out the sandbox,
// runs the host with p as its plugin path, and checks that hello loads or is
// refused with the exact reason.

// otherID is a uid and gid no test machine hands out: the "other user" and
// "other group" of the cases that need one, made by chown (as root).
const otherID = 54321

const overrideHint = ", or set OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=true for development"

// insecureWarning is what the host logs when the checks are off.
const insecureWarning = "PLUGIN_ALLOW_INSECURE_PERMISSIONS is true: the permissions of .so files, meta.json files and settings are not checked"

func needRoot(t *testing.T) {
	t.Helper()
	testenv.Root(t, "this case needs a file of another user or group, made with chown")
}

func chmod(t testing.TB, path string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.Chmod(path, mode))
}

func TestRealTrust(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, s *sandbox) // p is the plugin path
		step  string                         // "" loads
		want  string                         // ROOT/ stands for the sandbox
	}{
		{"symlink into a 0777 directory", func(t *testing.T, s *sandbox) {
			target := s.place("hello", "shared/hello.so")
			chmod(t, s.path("shared"), 0o777)
			s.mkdir("p")
			require.NoError(t, os.Symlink(target, s.path("p/hello.so")))
		}, "trust", "ROOT/shared is writable by every user (mode 0777, no sticky bit), so anyone can replace ROOT/shared/hello.so, the target of the symlink ROOT/p/hello.so: run chmod o-w ROOT/shared" + overrideHint},
		{"the same symlink, target directory 0755", func(t *testing.T, s *sandbox) {
			target := s.place("hello", "shared/hello.so")
			chmod(t, s.path("shared"), 0o755)
			s.mkdir("p")
			require.NoError(t, os.Symlink(target, s.path("p/hello.so")))
		}, "", ""},
		{"a 0777 ancestor", func(t *testing.T, s *sandbox) {
			s.place("hello", "anc/p/hello.so")
			chmod(t, s.path("anc"), 0o777)
			require.NoError(t, os.Symlink(s.path("anc/p"), s.path("p")))
		}, "trust", "ROOT/anc is writable by every user (mode 0777, no sticky bit), so anyone can replace ROOT/anc/p/hello.so, the target of the symlink ROOT/p/hello.so: run chmod o-w ROOT/anc" + overrideHint},
		{"a 0777 ancestor, no symlink", func(t *testing.T, s *sandbox) {
			s.place("hello", "anc/deep/p/hello.so")
			chmod(t, s.path("anc"), 0o777)
			s.setenv("OPA_PLUGIN_PATHS=" + s.path("anc/deep/p"))
		}, "trust", "ROOT/anc is writable by every user (mode 0777, no sticky bit), so anyone can replace ROOT/anc/deep/p/hello.so: run chmod o-w ROOT/anc" + overrideHint},
		{"a 1777 ancestor", func(t *testing.T, s *sandbox) {
			s.place("hello", "p/hello.so")
			chmod(t, s.root, 0o777|os.ModeSticky)
		}, "", ""},
		{"a 0777 plugin directory (NAME/)", func(t *testing.T, s *sandbox) {
			s.place("hello", "p/hello/plugin.so")
			chmod(t, s.path("p/hello"), 0o777)
		}, "trust", "ROOT/p/hello is writable by every user (mode 0777, no sticky bit), so anyone can replace ROOT/p/hello/plugin.so: run chmod o-w ROOT/p/hello" + overrideHint},
		{"a group-writable directory of another group", func(t *testing.T, s *sandbox) {
			needRoot(t)
			s.place("hello", "p/hello.so")
			require.NoError(t, os.Chown(s.path("p"), 0, otherID))
			chmod(t, s.path("p"), 0o775)
		}, "trust", "ROOT/p is writable by group 54321, which is not its owner's own group (mode 0775, no sticky bit), so anyone in group 54321 can replace ROOT/p/hello.so: run chmod g-w ROOT/p" + overrideHint},
		{"a group-writable directory of the owner's own group", func(t *testing.T, s *sandbox) {
			needRoot(t)
			s.place("hello", "p/hello.so")
			require.NoError(t, os.Chown(s.path("p"), 0, 0))
			chmod(t, s.path("p"), 0o775)
		}, "", ""},
		{"an ancestor owned by another user", func(t *testing.T, s *sandbox) {
			needRoot(t)
			s.place("hello", "p/hello.so")
			require.NoError(t, os.Chown(s.path("p"), otherID, otherID))
		}, "trust", "ROOT/p is owned by uid 54321, neither root nor the user this host runs as, uid 0 (root), so uid 54321 can replace ROOT/p/hello.so: run chown root ROOT/p" + overrideHint},
		{"a meta.json mode 0666", func(t *testing.T, s *sandbox) {
			s.place("hello", "p/hello.so")
			chmod(t, s.write("p/hello-meta.json", `{"tags": ["a"]}`), 0o666)
		}, "meta", "trust: ROOT/p/hello-meta.json is writable by every user (mode 0666, bit o+w), so anyone can change it: run chmod o-w ROOT/p/hello-meta.json" + overrideHint},
		{"a directory plugin's meta.json, symlinked into a 0777 directory", func(t *testing.T, s *sandbox) {
			s.place("hello", "p/hello/plugin.so")
			meta := s.write("shared/meta.json", `{"tags": ["a"]}`)
			chmod(t, s.path("shared"), 0o777)
			require.NoError(t, os.Symlink(meta, s.path("p/hello/meta.json")))
		}, "meta", "trust: ROOT/shared is writable by every user (mode 0777, no sticky bit), so anyone can replace ROOT/shared/meta.json, the target of the symlink ROOT/p/hello/meta.json: run chmod o-w ROOT/shared" + overrideHint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			s.setenv("OPA_PLUGIN_PATHS=" + s.path("p"))
			tc.setup(t, s) // may set another path
			res := s.run("-get", "/hello")
			if tc.step == "" {
				require.Empty(t, res.StartupError, res.Stderr)
				assert.True(t, res.plugin(t, "hello").Loaded)
				assert.Equal(t, "hello from a plugin", res.Gets[0].Body)
				assert.NotContains(t, res.Stderr, insecureWarning)
				return
			}
			want := "opa: plugin hello (" + res.plugin(t, "hello").Path + "): " + tc.step + ": " + strings.ReplaceAll(tc.want, "ROOT", s.root)
			assert.Contains(t, res.StartupError, want)
			assert.Equal(t, want, res.plugin(t, "hello").Reason)
			assert.Equal(t, tc.step, res.plugin(t, "hello").Step)

			// The development override: the same layout loads, with one warning.
			s.setenv("OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=true")
			res = s.run("-get", "/hello")
			require.Empty(t, res.StartupError, res.Stderr)
			assert.Equal(t, "hello from a plugin", res.Gets[0].Body)
			assert.Equal(t, 1, strings.Count(res.Stderr, insecureWarning), res.Stderr)
		})
	}
}

// TestRealTrustSettings: a settings file others can write is refused before
// it is read (it could name any plugin path); the override turns the check
// off and warns once; a settings file cannot set the override itself.
func TestRealTrustSettings(t *testing.T) {
	s := newSandbox(t)
	s.place("hello", "p/hello.so")
	file := s.write("settings/a.yaml", "development:\n  PLUGIN_PATHS: ["+s.path("p")+"]\n")

	res := s.run("-get", "/hello")
	require.Empty(t, res.StartupError, res.Stderr)
	assert.True(t, res.plugin(t, "hello").Loaded, "a settings file 0644 in a 0755 directory is read")

	chmod(t, file, 0o666)
	res = s.run("-get", "/hello")
	assert.Equal(t, "opa: config "+file+": trust: "+file+" is writable by every user (mode 0666, bit o+w), so anyone can change it: run chmod o-w "+file+overrideHint, res.StartupError)
	assert.Empty(t, res.Report.Plugins)

	chmod(t, file, 0o644)
	chmod(t, s.path("settings"), 0o777)
	res = s.run("-get", "/hello")
	dir := s.path("settings")
	assert.Equal(t, "opa: config "+dir+": trust: "+dir+" is writable by every user (mode 0777, no sticky bit), so anyone can change it: run chmod o-w "+dir+overrideHint, res.StartupError)

	chmod(t, file, 0o666)
	s.setenv("OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=true")
	res = s.run("-get", "/hello")
	require.Empty(t, res.StartupError, res.Stderr)
	assert.Equal(t, "hello from a plugin", res.Gets[0].Body)
	assert.Equal(t, 1, strings.Count(res.Stderr, insecureWarning), res.Stderr)

	s = newSandbox(t)
	s.place("hello", "p/hello.so")
	file = s.write("settings/a.yaml", "development:\n  PLUGIN_PATHS: ["+s.path("p")+"]\n  PLUGIN_ALLOW_INSECURE_PERMISSIONS: true\n")
	res = s.run()
	assert.Contains(t, res.StartupError, "opa: config "+file+" [development]: PLUGIN_ALLOW_INSECURE_PERMISSIONS: can only be set by the environment variable OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS")
	assert.NotContains(t, res.Stderr, insecureWarning)
}
