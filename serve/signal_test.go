package serve_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowRequest sends GET /slow in the background; it is answered once the
// returned release func is called. wait returns its status and body.
func (c *chain) slowRequest() (release func(), wait func() (int, string)) {
	c.t.Helper()
	file := filepath.Join(c.t.TempDir(), "release")
	from := c.Mark()
	type answer struct {
		code int
		body string
	}
	done := make(chan answer, 1)
	go func() {
		code, body := c.tryGet("/slow?release=" + file)
		done <- answer{code, body}
	}()
	c.waitLine(from, "the slow request to start", func(l string) bool { return strings.HasPrefix(l, "slow started ") })
	release = func() {
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			c.t.Fatal(err)
		}
	}
	wait = func() (int, string) { a := <-done; return a.code, a.body }
	return release, wait
}

// tryGet is get that returns a failed request as status 0 and the error,
// for use off the test's goroutine.
func (c *chain) tryGet(path string) (int, string) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: deadline}
	resp, err := client.Get(c.base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(b)
}

// waitFor polls ok until it holds, bounded by deadline, and reports
// whether it did.
func waitFor(ok func() bool) bool {
	for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if ok() {
			return true
		}
	}
	return ok()
}

func contains(s string) func(string) bool {
	return func(l string) bool { return strings.Contains(l, s) }
}

// TestSIGHUPDuringDrain: a process that drains a slow request, on SIGTERM
// (stopping) or after a reload (handed over), stays alive through a SIGHUP:
// the request completes, opa.Shutdown runs, and the process exits 0. A
// handed-over process answers the SIGHUP with the PID it handed over to
// and leaves PIDFILE.reload as the successful reload wrote it.
func TestSIGHUPDuringDrain(t *testing.T) {
	dir := buildDir(t)
	setup := func(t *testing.T) *chain {
		plugins := t.TempDir()
		install(t, read(t, filepath.Join(dir, "v1", "hello.so")), plugins, "hello.so")
		return startChain(t, plugins)
	}
	// finish releases the slow request and checks that it completed and
	// that pid shut down and exited cleanly.
	finish := func(t *testing.T, c *chain, from, pid int, release func(), wait func() (int, string)) {
		release()
		if code, body := wait(); code != http.StatusOK || body != "slow done" {
			t.Errorf("the slow request in flight: %d %q, want 200 \"slow done\"", code, body)
		}
		c.waitLine(from, fmt.Sprintf("opa.Shutdown in %d", pid), contains(fmt.Sprintf("opa shutdown pid=%d err=<nil>", pid)))
		c.waitLine(from, fmt.Sprintf("process %d to exit", pid), exitedLine(pid))
		if err := c.ExitErr(); err != nil {
			t.Errorf("process %d: %v, want exit status 0", pid, err)
		}
	}

	t.Run("stopping", func(t *testing.T) {
		c := setup(t)
		pid := c.pid()
		release, wait := c.slowRequest()
		from := c.Mark()
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		c.waitLine(from, "the drain to start", contains("serve: shutting down"))
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		c.waitLine(from, "the SIGHUP to be ignored", contains("this process is shutting down"))
		finish(t, c, from, pid, release, wait)
	})

	t.Run("handed over", func(t *testing.T) {
		c := setup(t)
		old := c.pid()
		release, wait := c.slowRequest()
		from := c.Mark()
		pid, err := c.reload()
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
		result := read(t, c.pidFile+".reload")
		if err := syscall.Kill(old, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		c.waitLine(from, "the old process to refuse the SIGHUP", contains(fmt.Sprintf("already handed over to PID %d", pid)))
		if got := read(t, c.pidFile+".reload"); string(got) != string(result) {
			t.Errorf("PIDFILE.reload changed after the SIGHUP to the old process:\n%s\nwant, as the reload wrote it:\n%s", got, result)
		}
		if strings.Contains(c.Output(), "reload failed") {
			t.Errorf("a reload failure was logged:\n%s", c.Output())
		}
		finish(t, c, from, old, release, wait)
		if code, body := c.get("/pid"); body != strconv.Itoa(pid) {
			t.Errorf("GET /pid: %d %q, want the new process %d", code, body, pid)
		}
	})
}

// TestReloadTimeout: a new process that never becomes ready (a plugin's
// init blocks) is killed after ReadyTimeout, and the trigger says that it
// timed out and after how long; the old process serves on.
func TestReloadTimeout(t *testing.T) {
	dir := buildDir(t)
	plugins := t.TempDir()
	install(t, read(t, filepath.Join(dir, "v1", "hello.so")), plugins, "hello.so")
	c := startChain(t, plugins, "-ready-timeout", "1s")
	first := c.pid()
	install(t, read(t, filepath.Join(dir, "stuck.so")), plugins, "stuck.so")
	_, err := c.reload()
	if err == nil {
		t.Fatal("the reload succeeded")
	}
	t.Logf("trigger: %v", err)
	if !strings.Contains(err.Error(), "not ready within 1s") {
		t.Errorf("the trigger's error does not say that it waited 1s: %v", err)
	}
	if strings.Contains(err.Error(), "stopped before it was ready") {
		t.Errorf("the trigger's error says the new process stopped by itself: %v", err)
	}
	if code, body := c.get("/pid"); body != strconv.Itoa(first) {
		t.Errorf("GET /pid: %d %q, want the old process %d", code, body, first)
	}
}

// TestFailedReloadsLeaveNoFd: the serving process has as many fds open
// after ten failed reloads as before (tableflip leaves 2 pipes to the
// garbage collector on each).
func TestFailedReloadsLeaveNoFd(t *testing.T) {
	dir := buildDir(t)
	plugins := t.TempDir()
	install(t, read(t, filepath.Join(dir, "v1", "hello.so")), plugins, "hello.so")
	c := startChain(t, plugins)
	pid := c.pid()
	fds := func() int {
		t.Helper()
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			t.Skipf("no /proc to count fds: %v", err)
		}
		return len(ents)
	}
	c.get("/pid") // the server's first connection has come and gone
	before := fds()
	install(t, read(t, filepath.Join(dir, "crashy.so")), plugins, "crashy.so")
	const n = 10
	for i := range n {
		if _, err := c.reload(); err == nil {
			t.Fatalf("reload %d succeeded", i+1)
		}
	}
	// The last reload's pipes close as its child is reaped and their
	// finalizers run: wait for the count, bounded.
	if !waitFor(func() bool { return fds() <= before }) {
		t.Fatalf("%d fds open after %d failed reloads, %d before", fds(), n, before)
	}
	t.Logf("%d fds before, %d after %d failed reloads", before, fds(), n)
}
