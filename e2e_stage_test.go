package opa_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/internal/stage"
)

// place copies (never links) fixture NAME.so to rel, for a test that then
// writes into the file: a hard link would write into the shared fixture.
func (s *sandbox) placeCopy(fixture, rel string) string {
	s.t.Helper()
	s.mkdir(filepath.Dir(rel))
	dst := s.path(rel)
	require.NoError(s.t, copyFile(filepath.Join(s.fixtures, fixture+".so"), dst))
	return dst
}

// overwrite writes the bytes of src into dst in place, as `cp src dst`
// does when dst exists: the same inode, truncated, then written.
func overwrite(t *testing.T, src, dst string) {
	t.Helper()
	before, err := os.Stat(dst)
	require.NoError(t, err)
	require.NoError(t, copyFile(src, dst))
	after, err := os.Stat(dst)
	require.NoError(t, err)
	require.True(t, os.SameFile(before, after), "cp writes into the same file")
}

// TestCopyOverALoadedPlugin is the deploy by hand that killed the host:
// `cp new.so plugins/NAME.so` over the files of a plugin that serves a
// route calling a hook, and of the plugin whose hook it calls, while
// clients call both. The host loaded private copies, so it keeps serving
// the code it loaded, with no failed request.
func TestCopyOverALoadedPlugin(t *testing.T) {
	s := newSandbox(t)
	greeter := s.placeCopy("greeter", "plugins/greeter.so")
	fullname := s.placeCopy("fullname", "plugins/fullname.so")
	sum := sha256File(t, greeter)
	s.setenv("OPA_PLUGIN_PATHS="+s.path("plugins"), "OPA_PLUGIN_SHA256__GREETER="+sum)
	h := s.serve()

	var rep opa.Report
	_, body := h.get("/opa/report")
	require.NoError(t, json.Unmarshal([]byte(body), &rep))
	for _, p := range rep.Plugins {
		assert.Equal(t, opa.OpenedCopy, p.Opened, "plugin %s", p.Name)
	}
	_, page := h.get("/opa/report?format=html")
	assert.Contains(t, page, "</code>, opened as private copy</div>", "the page says how each plugin was opened")
	assert.Contains(t, page, `<code title="`+sum+`">`+sum[:12]+`</code>`, "and shows a pinned plugin's hash, short")

	want := map[string]string{
		"/get-fullname/Ada/Lovelace":          "Hello Ada Lovelace",
		"/call/fullname?arg=Ada&arg=Lovelace": `["Ada Lovelace"]`,
	}
	var failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: readmeDeadline}
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				for path, body := range want {
					if err := getWant(client, h.base+path, body); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
				}
			}
		})
	}
	// Let the clients run, write the other plugins' bytes into both files,
	// and let them run again.
	for path, body := range want {
		require.NoError(t, getWant(client, h.base+path, body))
	}
	overwrite(t, filepath.Join(s.fixtures, "hello.so"), greeter)
	overwrite(t, filepath.Join(s.fixtures, "fullnamehi.so"), fullname)
	for range 100 {
		for path, body := range want {
			require.NoError(t, getWant(client, h.base+path, body), "after cp; the host's log:\n%s", h.stderrText())
		}
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, failed.Load(), "failed requests (first: %v)", firstErr.Load())
	out := h.stop()
	assert.Contains(t, out, "readmehost: Shutdown: <nil>")
	assert.NotContains(t, out, "fatal error")
}

// getWant GETs url and checks for a 200 with body (trailing space aside).
func getWant(c *http.Client, u, body string) error {
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != body {
		return &url.Error{Op: "GET", URL: u, Err: errUnexpected(resp.StatusCode, string(b))}
	}
	return nil
}

type unexpectedError struct {
	status int
	body   string
}

func (e unexpectedError) Error() string {
	return http.StatusText(e.status) + ": " + strings.TrimSpace(e.body)
}

func errUnexpected(status int, body string) error { return unexpectedError{status, body} }

// TestFilesThatAreNotPluginsInAPluginFolder: a FIFO, a socket, a device
// (by a symlink) and a directory named like a .so file are each refused
// with a reason that says what they are, and Startup neither blocks (a
// FIFO's open waits for a writer) nor loses the real plugin.
func TestFilesThatAreNotPluginsInAPluginFolder(t *testing.T) {
	s := newSandbox(t)
	dir := s.mkdir("plugins")
	s.place("hello", "plugins/hello.so")
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo.so"), 0o644))
	require.NoError(t, os.Symlink("/dev/null", filepath.Join(dir, "device.so")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "folder.so"), 0o755))
	// A socket's path must be short (108 bytes): make it here, move it in.
	short, err := os.MkdirTemp("", "sock")
	require.NoError(t, err)
	defer os.RemoveAll(short)
	sock := makeSocket(t, filepath.Join(short, "s"))
	require.NoError(t, os.Rename(sock, filepath.Join(dir, "socket.so")))
	s.setenv("OPA_PLUGIN_PATHS="+dir, "OPA_PLUGIN_ON_ERROR=skip")

	res := s.run("-get", "/hello")
	require.Empty(t, res.StartupError)
	require.Len(t, res.Gets, 1)
	assert.Equal(t, "hello from a plugin", res.Gets[0].Body)
	for name, kind := range map[string]string{
		"fifo":   "a named pipe (FIFO), not a regular file",
		"device": "a character device, not a regular file",
		"folder": "a directory, not a plugin file",
		"socket": "a socket, not a regular file",
	} {
		p := res.plugin(t, name)
		assert.False(t, p.Loaded, name)
		assert.Equal(t, "preflight", p.Step, name)
		assert.Contains(t, p.Reason, filepath.Join(dir, name+".so")+" is "+kind, name)
	}

	// Without skip, Startup fails naming the first of them, and returns.
	s.setenv("OPA_PLUGIN_ON_ERROR=fail")
	res = s.run()
	assert.Contains(t, res.StartupError, filepath.Join(dir, "device.so")+" is a character device")
}

// TestMetaFileThatIsNotAMetaFile: a named pipe where a plugin's meta.json
// should be is refused, saying what it is, with the permission rule on
// and off; Startup does not wait for a writer that never comes (it did,
// with the rule on or off). A meta.json of more than a megabyte is
// refused, saying its size, without being read. An opa.lock that is a
// named pipe fails Startup instead of blocking it.
func TestMetaFileThatIsNotAMetaFile(t *testing.T) {
	s := newSandbox(t)
	dir := s.mkdir("plugins")
	s.place("hello", "plugins/hello.so")
	meta := filepath.Join(dir, "hello-meta.json")
	require.NoError(t, syscall.Mkfifo(meta, 0o644))
	for _, insecure := range []string{"false", "true"} {
		s.setenv("OPA_PLUGIN_PATHS="+dir, "OPA_PLUGIN_ON_ERROR=skip", "OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS="+insecure)
		res := s.runWithin(time.Minute)
		require.Empty(t, res.StartupError)
		p := res.plugin(t, "hello")
		assert.False(t, p.Loaded, "insecure permissions allowed: %s", insecure)
		assert.Contains(t, p.Reason, "meta file "+meta+": "+meta+" is a named pipe (FIFO), not a regular file: a meta.json must be a regular file", "insecure permissions allowed: %s", insecure)
	}

	require.NoError(t, os.Remove(meta))
	f, err := os.Create(meta)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(1<<30)) // sparse: a gigabyte of nothing
	require.NoError(t, f.Close())
	res := s.runWithin(time.Minute)
	p := res.plugin(t, "hello")
	assert.False(t, p.Loaded)
	assert.Contains(t, p.Reason, fmt.Sprintf("meta file %s: it is %d bytes, more than the %d a meta.json may have", meta, 1<<30, 1<<20))

	// An opa.lock that is a named pipe fails Startup, saying so, with the
	// permission rule on and off.
	require.NoError(t, os.Remove(meta))
	lockFile := filepath.Join(dir, opa.LockFile)
	require.NoError(t, syscall.Mkfifo(lockFile, 0o644))
	for _, insecure := range []string{"false", "true"} {
		s.setenv("OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=" + insecure)
		res = s.runWithin(time.Minute)
		assert.Contains(t, res.StartupError, "lock file "+lockFile+": "+lockFile+" is a named pipe (FIFO), not a regular file: an opa.lock must be a regular file",
			"insecure permissions allowed: %s", insecure)
	}
}

func makeSocket(t *testing.T, path string) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	defer syscall.Close(fd)
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}))
	return path
}

// TestPrivateCopies: the report says each plugin was opened from a private
// copy, the directory of copies is gone once Startup is done, one left by a
// dead process is cleaned up, and PLUGIN_OPEN_IN_PLACE opens in place with
// a warning.
func TestPrivateCopies(t *testing.T) {
	s := newSandbox(t)
	s.place("hello", "plugins/hello.so")
	copies := s.mkdir("copies")
	stale := filepath.Join(copies, stage.Prefix+"1-stale")
	require.NoError(t, os.Mkdir(stale, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(stale, ".lock"), nil, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(stale, "hello.so"), []byte("left behind"), 0o600))
	s.setenv("OPA_PLUGIN_PATHS="+s.path("plugins"), "OPA_PLUGIN_COPY_DIR="+copies)

	res := s.run("-get", "/hello")
	require.Empty(t, res.StartupError)
	assert.Equal(t, "hello from a plugin", res.Gets[0].Body)
	assert.Equal(t, opa.OpenedCopy, res.plugin(t, "hello").Opened)
	left, err := os.ReadDir(copies)
	require.NoError(t, err)
	assert.Empty(t, left, "the stale directory is cleaned, and this run's removed")

	s.setenv("OPA_PLUGIN_OPEN_IN_PLACE=true")
	res = s.run("-get", "/hello")
	require.Empty(t, res.StartupError)
	assert.Equal(t, opa.OpenedInPlace, res.plugin(t, "hello").Opened)
	require.Len(t, res.Report.Warnings, 1)
	assert.Contains(t, res.Report.Warnings[0], "PLUGIN_OPEN_IN_PLACE is true")
	assert.Equal(t, 1, strings.Count(res.Stderr, "PLUGIN_OPEN_IN_PLACE is true"))

	s.setenv("OPA_PLUGIN_OPEN_IN_PLACE=false", "OPA_PLUGIN_COPY_DIR="+s.path("missing"))
	res = s.run()
	assert.Contains(t, res.StartupError, "PLUGIN_COPY_DIR")
	assert.Contains(t, res.StartupError, s.path("missing"))
}

// TestPinIsHashedFromTheCopy: a pinned plugin's SHA-256 is computed from
// the bytes loaded, in the copy pass, and reported.
func TestPinIsHashedFromTheCopy(t *testing.T) {
	s := newSandbox(t)
	file := s.place("hello", "plugins/hello.so")
	sum := sha256File(t, file)
	s.setenv("OPA_PLUGIN_PATHS="+s.path("plugins"), "OPA_PLUGIN_SHA256__HELLO="+sum)
	res := s.run("-get", "/hello")
	require.Empty(t, res.StartupError)
	assert.Equal(t, sum, res.plugin(t, "hello").SHA256)
	assert.Equal(t, opa.OpenedCopy, res.plugin(t, "hello").Opened)
}

// TestSwapAfterTheCheck is the race of a user who can rename entries in a
// plugin folder (it is group-writable by its owner's group, which the
// permission rule accepts): they exchange the plugin with a file of their
// own, in a loop, while the host starts. Whatever the timing, the host
// never runs their code: it loads the real plugin or refuses.
func TestSwapAfterTheCheck(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the attacker runs as a second user (uid 4242) in root's group")
	}
	const attacker = 4242
	s := newSandbox(t)
	// Let the attacker reach the folder: the test's directories are 0700.
	for _, d := range []string{filepath.Dir(s.root), s.root} {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	plugins := s.mkdir("plugins")
	require.NoError(t, os.Chmod(plugins, 0o775)) // root:root, group-writable
	s.placeCopy("hello", "plugins/hello.so")
	evil := s.placeCopy("fullname", "plugins/.evil.so")
	require.NoError(t, os.Chmod(evil, 0o644))
	require.NoError(t, os.Chown(evil, attacker, 0))
	swapper := s.path("swapper")
	require.NoError(t, goCmd("build", "-o", swapper, "./testdata/swapper"))

	cmd := exec.Command(swapper, filepath.Join(plugins, "hello.so"), evil, "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: attacker, Gid: 0}}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &lockedWriter{w: new(bytes.Buffer)}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the swapper: %s", stderr.String())
	require.Equal(t, "swapping\n", line)

	s.setenv("OPA_PLUGIN_PATHS=" + plugins)
	var loaded, refused int
	for range 50 {
		res := s.run("-get", "/hello")
		if res.StartupError != "" {
			refused++
			assert.Contains(t, res.StartupError, "trust: ")
			assert.Contains(t, res.StartupError, "uid 4242")
			continue
		}
		loaded++
		require.Len(t, res.Gets, 1)
		assert.Equal(t, "hello from a plugin", res.Gets[0].Body, "the host served another user's code")
		assert.Empty(t, res.Report.Hooks, "the host loaded another user's hooks")
	}
	t.Logf("50 starts under the swap: %d loaded the real plugin, %d refused, 0 ran the attacker's", loaded, refused)
	assert.Equal(t, 50, loaded+refused)
	require.NoError(t, cmd.Process.Signal(syscall.Signal(0)), "the swapper ran all along: %s", stderr.String())
}

func sha256File(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestReadOnlyFilesystemOpensInPlace: a plugin on a read-only filesystem
// (as in a container image) cannot change, so it is checked and opened in
// place, with no copy. The host runs in a mount namespace of its own, on a
// tmpfs remounted read-only.
func TestReadOnlyFilesystemOpensInPlace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to mount a read-only filesystem in a mount namespace")
	}
	s := newSandbox(t)
	ro := s.mkdir("ro")
	host := filepath.Join(s.fixtures, "host")
	script := `set -e
mount -t tmpfs -o mode=0755 opa-ro "$RO"
mkdir "$RO/plugins"
cp "$FIXTURE" "$RO/plugins/hello.so"
mount -o remount,ro "$RO"
exec "$HOST" -get /hello`
	cmd := exec.Command("unshare", "--mount", "sh", "-c", script)
	cmd.Env = append(cleanEnv(), s.env...)
	cmd.Env = append(cmd.Env, "RO="+ro, "FIXTURE="+filepath.Join(s.fixtures, "hello.so"), "HOST="+host,
		"OPA_PLUGIN_PATHS="+filepath.Join(ro, "plugins"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr:\n%s", stderr.String())
	var res hostResult
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), stdout.String())
	require.Empty(t, res.StartupError, stderr.String())
	require.Len(t, res.Gets, 1)
	assert.Equal(t, "hello from a plugin", res.Gets[0].Body)
	assert.Equal(t, opa.OpenedReadOnly, res.plugin(t, "hello").Opened)
}
