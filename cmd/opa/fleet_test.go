package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/lock"
	"github.com/opa-stack/opa-go/internal/testenv"
)

// startInstance starts the test host in dir, as one instance of a fleet:
// its settings name the plugin folder "plugins" relative to dir, as every
// instance of a fleet names the same folder on its own machine, so that
// instances on one machine have the same settings.
func startInstance(t *testing.T, bin, dir string) *runningHost {
	t.Helper()
	h := &runningHost{pidFile: filepath.Join(dir, "host.pid")}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-pidfile", h.pidFile)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPA_") && !strings.HasPrefix(kv, "ENV=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "OPA_SETTINGS_DIR=settings", "OPA_PLUGIN_PATHS=plugins", "OPA_PLUGIN_DEFAULT_PATH=default")
	h.Group = testenv.StartGroup(t, "the test host in "+filepath.Base(dir), cmd)
	line := h.MustWait(t, 0, waitFor, "the test host to serve", func(l string) bool { return strings.HasPrefix(l, "ready ") })
	h.base = strings.Fields(line)[1]
	return h
}

// lockedSum is the SHA-256 that dir's opa.lock records for plugin name.
func lockedSum(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, lock.FileName))
	require.NoError(t, err)
	f, err := lock.Parse(data)
	require.NoError(t, err)
	e, ok := f.Find(name)
	require.True(t, ok, "%s has no entry for %s:\n%s", dir, name, data)
	return e.SHA256
}

// TestFleet: two instances of the test host on one machine, from two
// locked folders that differ in one plugin. opa fleet says they differ,
// naming the plugin and both SHA-256s; once opa add installs the same build
// into the second folder (and reloads it), they agree; an instance that
// does not answer is named, with exit status 2.
func TestFleet(t *testing.T) {
	host := serveHost(t)
	work := t.TempDir()
	env := offline("off")
	a, b := filepath.Join(work, "a"), filepath.Join(work, "b")
	for _, d := range []string{a, b} {
		require.NoError(t, os.MkdirAll(filepath.Join(d, "plugins"), 0o755))
		require.NoError(t, os.MkdirAll(filepath.Join(d, "settings"), 0o755))
	}
	res := runOpa(t, work, env, "init", "--host", host, "example.com/myplugin")
	require.Equal(t, 0, res.code, "opa init: %s%s", res.stdout, res.stderr)
	add := func(dir string, args ...string) result {
		t.Helper()
		return runOpa(t, work, env, append([]string{"add", "--host", host, "--path", filepath.Join(dir, "plugins")}, args...)...)
	}
	res = add(a, "--lock", "./myplugin")
	require.Equal(t, 0, res.code, "opa add: %s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, filepath.Join(a, "plugins", "opa.lock")+": updated")
	main := filepath.Join(work, "myplugin", "main.go")
	src, err := os.ReadFile(main)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(main, []byte(strings.Replace(string(src), "hello from myplugin", "hello again from myplugin", 1)), 0o644))
	res = add(b, "--lock", "./myplugin")
	require.Equal(t, 0, res.code, "opa add: %s%s", res.stdout, res.stderr)
	sumA, sumB := lockedSum(t, filepath.Join(a, "plugins"), "myplugin"), lockedSum(t, filepath.Join(b, "plugins"), "myplugin")
	require.NotEqual(t, sumA, sumB)

	ha, hb := startInstance(t, host, a), startInstance(t, host, b)
	urlA, urlB := ha.base+"/opa/report", hb.base+"/opa/report"

	res = runOpa(t, work, nil, "fleet", urlA, urlB)
	assert.Equal(t, 1, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "2 instances, 2 fingerprints")
	assert.Contains(t, res.stdout, "plugin myplugin differs:\n")
	assert.Contains(t, res.stdout, "  sha256 "+sumA+", example.com/myplugin (devel) on 1 instance: "+urlA+"\n")
	assert.Contains(t, res.stdout, "  sha256 "+sumB+", example.com/myplugin (devel) on 1 instance: "+urlB+"\n")
	assert.NotContains(t, res.stdout, "settings differ", "the same settings, and the listen addresses are left out")

	res = add(b, "--pidfile", hb.pidFile, filepath.Join(a, "plugins", "myplugin.so"))
	require.Equal(t, 0, res.code, "opa add: %s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "fingerprint before: plugins ")
	assert.Contains(t, res.stdout, "fingerprint after : plugins ")
	assert.Contains(t, res.stdout, "reloaded: pid ")
	assert.Equal(t, sumA, lockedSum(t, filepath.Join(b, "plugins"), "myplugin"), "the lock records the new file")

	res = runOpa(t, work, nil, "fleet", urlA, urlB)
	assert.Equal(t, 0, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "2 instances, 1 fingerprint")
	assert.Contains(t, res.stdout, "all instances agree")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := "http://" + ln.Addr().String() + "/opa/report"
	require.NoError(t, ln.Close()) // nothing answers there now
	res = runOpa(t, work, nil, "fleet", urlA, urlB, gone)
	assert.Equal(t, 2, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stderr, "opa fleet: "+gone+": unreachable: dial tcp "+strings.TrimPrefix(strings.TrimSuffix(gone, "/opa/report"), "http://")+": connect: connection refused")
	assert.Contains(t, res.stdout, "1 of 3 instances could not be read")
}
