package opa_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/lock"
)

// sumOf is a file's SHA-256 in hex.
func sumOf(t testing.TB, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// writeLock writes p's opa.lock with the given plugins (NAME.so each) and
// SHA-256s.
func writeLock(s *sandbox, sums map[string]string) string {
	s.t.Helper()
	f := &lock.File{LockVersion: lock.Version}
	for name, sum := range sums {
		f.Put(lock.Entry{Name: name, File: name + ".so", SHA256: sum})
	}
	return s.write("p/opa.lock", string(f.Marshal()))
}

// TestRealLock: a plugin folder with an opa.lock loads only what the lock
// names, with the SHA-256 it records, computed as the file is staged.
func TestRealLock(t *testing.T) {
	setup := func(t *testing.T) (*sandbox, string) {
		s := newSandbox(t)
		s.setenv("OPA_PLUGIN_PATHS=" + s.path("p"))
		hello := s.place("hello", "p/hello.so")
		return s, hello
	}
	t.Run("the files it names load, hashed", func(t *testing.T) {
		s, hello := setup(t)
		writeLock(s, map[string]string{"hello": sumOf(t, hello)})
		res := s.run("-get", "/hello")
		require.Empty(t, res.StartupError, res.Stderr)
		assert.Equal(t, "hello from a plugin", res.Gets[0].Body)
		assert.Equal(t, sumOf(t, hello), res.plugin(t, "hello").SHA256)
		fp := res.Report.Fingerprint
		require.NotNil(t, fp)
		assert.Empty(t, fp.Unhashed, "every loaded plugin of a locked folder is hashed")
		assert.Len(t, fp.Plugins, 64)
	})
	t.Run("a file dropped in by hand is refused", func(t *testing.T) {
		s, hello := setup(t)
		lockFile := writeLock(s, map[string]string{"hello": sumOf(t, hello)})
		probe := s.place("probe", "p/probe.so")
		res := s.run()
		want := "opa: plugin probe (" + s.path("p/probe") + "): trust: " + probe + ": not in opa.lock (" + lockFile + ")"
		assert.Contains(t, res.StartupError, want)
		assert.True(t, strings.HasPrefix(res.plugin(t, "probe").Reason, want), res.plugin(t, "probe").Reason)
		assert.Equal(t, "trust", res.plugin(t, "probe").Step)

		s.setenv("OPA_PLUGIN_IGNORE_LOCK=true") // enforcement off: it loads, with a warning
		res = s.run()
		require.Empty(t, res.StartupError, res.Stderr)
		assert.True(t, res.plugin(t, "probe").Loaded)
		assert.Contains(t, res.Report.Warnings, "PLUGIN_IGNORE_LOCK is true: the opa.lock files of the plugin folders are not enforced, so any .so file in them loads")
	})
	t.Run("an entry whose file is missing fails Startup", func(t *testing.T) {
		s, hello := setup(t)
		lockFile := writeLock(s, map[string]string{"hello": sumOf(t, hello), "greeter": strings.Repeat("ab", 32)})
		res := s.run()
		want := "opa: " + lockFile + " names plugin greeter (greeter.so), which is not in " + s.path("p") + ": deploy it, or record the folder as it is with opa lock " + s.path("p")
		assert.Contains(t, res.StartupError, want)

		s.setenv("OPA_PLUGIN_ON_ERROR=skip")
		res = s.run("-get", "/hello")
		require.Empty(t, res.StartupError, res.Stderr)
		assert.Equal(t, "hello from a plugin", res.Gets[0].Body)
		assert.Contains(t, res.Report.Warnings, want+" (PLUGIN_ON_ERROR=skip: Startup goes on)")
	})
	t.Run("a tampered byte is refused, naming both sums", func(t *testing.T) {
		s := newSandbox(t)
		s.setenv("OPA_PLUGIN_PATHS=" + s.path("p"))
		hello := s.path("p/hello.so")
		s.mkdir("p")
		require.NoError(t, copyFile(s.fixtures+"/hello.so", hello)) // a copy: the fixture stays as it is
		expected := sumOf(t, hello)
		lockFile := writeLock(s, map[string]string{"hello": expected})
		b, err := os.ReadFile(hello)
		require.NoError(t, err)
		b[len(b)-1] ^= 0xff
		require.NoError(t, os.WriteFile(hello, b, 0o755))
		actual := sumOf(t, hello)
		res := s.run()
		want := "trust: " + hello + ": SHA-256 mismatch: the file is " + actual + ", opa.lock (" + lockFile + ") records " + expected
		assert.Contains(t, res.StartupError, want)
		assert.Equal(t, actual, res.plugin(t, "hello").SHA256, "the report shows the sum of the bytes staged")
	})
	t.Run("a PLUGIN_SHA256 pin overrides the lock, with a warning", func(t *testing.T) {
		s, hello := setup(t)
		wrong := strings.Repeat("00", 32)
		lockFile := writeLock(s, map[string]string{"hello": wrong})
		s.setenv("OPA_PLUGIN_SHA256__HELLO=" + sumOf(t, hello))
		res := s.run("-get", "/hello")
		require.Empty(t, res.StartupError, res.Stderr)
		assert.Equal(t, "hello from a plugin", res.Gets[0].Body)
		assert.Contains(t, res.Report.Warnings, `PLUGIN_SHA256 pins "hello" to `+sumOf(t, hello)+", overriding the SHA-256 "+wrong+" that "+lockFile+" records for it")
	})
}
