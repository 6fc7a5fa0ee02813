package opa_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Loading plugins safely: each bad file below sits among good plugins. With
// PLUGIN_ON_ERROR=skip the host starts and serves the good ones; with the
// default (fail) Startup fails with the same reason. Either way the host
// process lives to print its report.

// extra fixtures, built only by the tests that need them.
var (
	flippedRace = sync.OnceValues(func() (string, error) { return buildExtra("flipped", "./testdata/plugins/kv", ".", !raceEnabled) })
	oldChi      = sync.OnceValues(func() (string, error) { return buildExtra("oldchi", "./oldchi", "testdata/othermod", raceEnabled) })
)

// buildExtra builds one plugin into the fixture directory, with or without
// -race, from package pkg of the module in dir.
func buildExtra(name, pkg, dir string, race bool) (string, error) {
	out, err := filepath.Abs(filepath.Join(fixtures.dir, name+".so"))
	if err != nil {
		return "", err
	}
	args := []string{"build", "-buildmode=plugin"}
	if race {
		args = append(args, "-race")
	}
	if err := goCmdIn(dir, append(args, "-o", out, pkg)...); err != nil {
		return "", err
	}
	return out, nil
}

func extraFixture(t testing.TB, build func() (string, error)) string {
	t.Helper()
	fixtureDir(t)
	file, err := build()
	require.NoError(t, err)
	return file
}

func TestRealBadFiles(t *testing.T) {
	real := filepath.Join(fixtureDir(t), "fullname.so")
	data, err := os.ReadFile(real)
	require.NoError(t, err)
	random := make([]byte, 64<<10)
	_, _ = rand.Read(random)

	for _, tc := range []struct {
		name  string
		place func(s *sandbox) // puts p/bad.so (or p/bad/plugin.so)
		step  string
		want  string
	}{
		{"truncated copy", func(s *sandbox) { s.write("p/bad.so", string(data[:100<<10])) },
			"preflight", "is truncated: it is 102400 bytes but its segments need"},
		{"zero bytes", func(s *sandbox) { s.write("p/bad.so", "") },
			"preflight", "is empty (0 bytes): rebuild it or copy it again"},
		{"random bytes", func(s *sandbox) { s.write("p/bad.so", string(random)) },
			"preflight", "is not an ELF shared object"},
		{"a directory named bad.so", func(s *sandbox) { s.mkdir("p/bad.so") },
			"preflight", "is a directory, not a plugin file"},
		{"built with other -race than the host", func(s *sandbox) { s.link(extraFixture(s.t, flippedRace), "p/bad.so") },
			"build", raceMismatch()},
		{"built against another chi", func(s *sandbox) { s.link(extraFixture(s.t, oldChi), "p/bad.so") },
			"build", "module github.com/go-chi/chi/v5"},
		{"a copy of another plugin", func(s *sandbox) { s.place("fullname", "p/bad.so") },
			"identity", "is the same plugin as " + "GOOD/fullname.so"},
		{"world-writable", func(s *sandbox) {
			f := filepath.Join(s.mkdir("p"), "bad.so")
			require.NoError(s.t, copyFile(filepath.Join(s.fixtures, "greeter.so"), f)) // a copy: a hard link would share the mode
			require.NoError(s.t, os.Chmod(f, 0o666))
		}, "trust", "/bad.so is writable by every user (mode 0666, bit o+w), so anyone can change it: run chmod o-w "},
		{"wrong checksum", func(s *sandbox) {
			s.place("greeter", "p/bad.so")
			s.setenv("OPA_PLUGIN_SHA256__BAD=" + strings.Repeat("ab", 32))
		}, "trust", "SHA-256 mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			s.place("greeter", "good/greeter.so")
			s.place("fullname", "good/fullname.so")
			s.place("hello", "good/hello.so")
			tc.place(s)
			want := strings.ReplaceAll(tc.want, "GOOD/", s.path("good")+"/")
			s.setenv(`OPA_PLUGIN_PATHS=["` + s.path("good") + `","` + s.path("p") + `"]`)
			prefix := "opa: plugin bad (" + s.path("p") + "/bad): " + tc.step + ": "

			res := s.run()
			assert.Contains(t, res.StartupError, prefix, "fail: Startup names plugin, path and step")
			assert.Contains(t, res.StartupError, want)
			assert.Contains(t, res.plugin(t, "bad").Reason, want)

			s.setenv("OPA_PLUGIN_ON_ERROR=skip")
			res = s.run("-get", "/hello", "-call", "fullname:a,b")
			require.Empty(t, res.StartupError, res.Stderr)
			bad := res.plugin(t, "bad")
			assert.False(t, bad.Loaded)
			assert.Contains(t, bad.Reason, prefix)
			assert.Contains(t, bad.Reason, want)
			assert.Equal(t, "hello from a plugin", res.Gets[0].Body, "the good plugins serve")
			assert.Equal(t, []any{"a b"}, res.Calls[0].Result)
			for _, p := range res.Report.Plugins {
				assert.Equal(t, p.Name != "bad", p.Loaded, p.Name)
			}
			assert.Contains(t, res.Stderr, "plugin left out (PLUGIN_ON_ERROR=skip)")
		})
	}
}

func raceMismatch() string {
	if raceEnabled {
		return "built without -race, host built with -race: rebuild the plugin with -race"
	}
	return "built with -race, host built without -race: rebuild the plugin without -race"
}

func TestRealPinnedPluginLoads(t *testing.T) {
	s := newSandbox(t)
	file := s.place("hello", "p/hello.so")
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	s.setenv("OPA_PLUGIN_PATHS="+s.path("p"), "OPA_PLUGIN_REQUIRE_SHA256=true", "OPA_PLUGIN_SHA256__HELLO="+hex.EncodeToString(sum[:]))
	res := s.run("-get", "/hello")
	require.Empty(t, res.StartupError, res.Stderr)
	assert.Equal(t, 200, res.Gets[0].Status)

	s.place("fullname", "p/fullname.so")
	res = s.run()
	assert.Contains(t, res.StartupError, "plugin fullname ("+s.path("p")+"/fullname): trust: ")
	assert.Contains(t, res.StartupError, "no SHA-256 pin, and PLUGIN_REQUIRE_SHA256 is set")
}

func TestRealSkipKeepsRequiredHooks(t *testing.T) {
	// The only provider of the required hook is a bad file: skip leaves it
	// out, and the missing required hook still fails Startup.
	s := newSandbox(t)
	s.place("greeter", "p/greeter.so")
	s.write("p/fullname.so", "")
	s.setenv("OPA_PLUGIN_PATHS="+s.path("p"), "OPA_PLUGIN_ON_ERROR=skip")
	res := s.run()
	assert.Contains(t, res.StartupError, "Hooks that should be registered: [fullname]")
	assert.Contains(t, res.plugin(t, "fullname").Reason, "is empty (0 bytes)")
}

func TestRealSkipLeavesOutAConflictingPlugin(t *testing.T) {
	s := newSandbox(t)
	s.place("hello", "p/hello.so")
	s.place("kv", "p/kv.so")
	s.setenv("OPA_PLUGIN_PATHS="+s.path("p"), "OPA_PLUGIN_ON_ERROR=skip")
	res := s.run("-host-route", "/hello", "-get", "/hello")
	require.Empty(t, res.StartupError, res.Stderr)
	assert.Equal(t, "host", res.Gets[0].Body)
	hello := res.plugin(t, "hello")
	assert.False(t, hello.Loaded)
	assert.Contains(t, hello.Reason, "GET /hello is already served by the host")
	assert.True(t, res.plugin(t, "kv").Loaded)
}

// noCgoHost is the test host built with CGO_ENABLED=0: it cannot open .so
// plugins at all.
var noCgoHost = sync.OnceValues(func() (string, error) {
	out, err := filepath.Abs(filepath.Join(fixtures.dir, "host-nocgo"))
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", out, "./testdata/host")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, b)
	}
	return out, nil
})

func TestRealHostWithoutCgo(t *testing.T) {
	s := newSandbox(t)
	s.host = extraFixture(t, noCgoHost)
	s.place("hello", "p/hello.so")
	s.setenv("OPA_PLUGIN_PATHS=" + s.path("p"))

	res := s.run("-register", "inside", "-get", "/inside")
	want := "opa: plugin hello (" + s.path("p") + "/hello): open: " + s.path("p") + "/hello.so: opa: .so plugins are not supported by this binary: this host was built with CGO_ENABLED=0"
	assert.Contains(t, res.StartupError, want)

	s.setenv("OPA_PLUGIN_ON_ERROR=skip")
	res = s.run("-register", "inside", "-get", "/inside")
	require.Empty(t, res.StartupError, res.Stderr)
	assert.Equal(t, "builtin inside", res.Gets[0].Body, "compiled-in plugins keep working")
	assert.Contains(t, res.plugin(t, "hello").Reason, "rebuild the host with CGO_ENABLED=1, or compile the plugin in with opa.Register")
}
