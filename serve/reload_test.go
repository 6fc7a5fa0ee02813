package serve_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exitedLine matches the line a process prints when it has drained and
// shut down.
func exitedLine(pid int) func(string) bool {
	return func(l string) bool { return l == fmt.Sprintf("exited pid=%d", pid) }
}

// TestFiveReloadsLoseNoRequest: under 20 concurrent clients, five reloads
// in a row, each to a new version of the hello plugin, lose no request (no
// connection error, no 5xx), and after each the new code answers.
func TestFiveReloadsLoseNoRequest(t *testing.T) {
	dir := buildDir(t)
	plugins := t.TempDir()
	install(t, read(t, filepath.Join(dir, "v1", "hello.so")), plugins, "hello.so")
	c := startChain(t, plugins)
	if code, body := c.get("/hello"); code != http.StatusOK || body != "hello v1" {
		t.Fatalf("GET /hello: %d %q, want 200 \"hello v1\"", code, body)
	}
	l := startLoad(c.base, "/hello", 20, 50000)
	for v := 2; v <= 6; v++ {
		old := c.pid()
		install(t, read(t, filepath.Join(dir, fmt.Sprintf("v%d", v), "hello.so")), plugins, "hello.so")
		from := c.Mark()
		pid, err := c.reload()
		if err != nil {
			l.finish(t)
			t.Fatalf("reload %d: %v", v-1, err)
		}
		if pid == old {
			t.Fatalf("reload %d: the PID file still names %d", v-1, pid)
		}
		c.waitLine(from, fmt.Sprintf("process %d to drain and exit", old), exitedLine(old))
		want := "hello v" + strconv.Itoa(v)
		if code, body := c.get("/hello"); code != http.StatusOK || body != want {
			t.Errorf("after reload %d: GET /hello: %d %q, want 200 %q", v-1, code, body, want)
		}
		if code, body := c.get("/pid"); body != strconv.Itoa(pid) {
			t.Errorf("after reload %d: GET /pid: %d %q, want the new process %d", v-1, code, body, pid)
		}
	}
	l.finish(t)
}

// TestBadReloadKeepsServing: a reload to a truncated .so, to a plugin whose
// required hook nobody provides, to a plugin whose init panics, and to
// settings with a LOAD: yes component that is down, fails: the trigger says
// why, the old process serves on with no failed request, and a good reload
// after them works.
func TestBadReloadKeepsServing(t *testing.T) {
	dir := buildDir(t)
	plugins := t.TempDir()
	v1 := read(t, filepath.Join(dir, "v1", "hello.so"))
	install(t, v1, plugins, "hello.so")
	c := startChain(t, plugins)
	first := c.pid()
	l := startLoad(c.base, "/hello", 20, 50000)
	for _, tc := range []struct {
		name    string
		prepare func()
		want    string // in the trigger's error
	}{
		{"truncated .so", func() { install(t, v1[:len(v1)/3], plugins, "hello.so") }, "hello.so"},
		{"missing required hook", func() {
			install(t, v1, plugins, "hello.so")
			install(t, read(t, filepath.Join(dir, "needy.so")), plugins, "needy.so")
		}, "[auth]"},
		{"crash in init", func() {
			removeFile(t, filepath.Join(plugins, "needy.so"))
			install(t, read(t, filepath.Join(dir, "crashy.so")), plugins, "crashy.so")
		}, "crashy"},
		{"LOAD: yes component down", func() {
			removeFile(t, filepath.Join(plugins, "crashy.so"))
			install(t, read(t, filepath.Join(dir, "down.so")), plugins, "down.so")
			settings := "default:\n  OPTIONAL_COMPONENTS:\n    store:\n      LOAD: yes\n      DRIVER: down\n"
			if err := os.WriteFile(filepath.Join(c.settings, "opa.yaml"), []byte(settings), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.prepare()
			_, err := c.reload()
			if err == nil {
				t.Fatal("the reload succeeded")
			}
			t.Logf("trigger: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("the trigger's error does not say why (%s): %v", tc.want, err)
			}
			if pid := c.pid(); pid != first {
				t.Errorf("the PID file names %d, want the old process %d", pid, first)
			}
			if code, body := c.get("/pid"); body != strconv.Itoa(first) {
				t.Errorf("GET /pid: %d %q, want the old process %d", code, body, first)
			}
			if code, body := c.get("/hello"); code != http.StatusOK || body != "hello v1" {
				t.Errorf("GET /hello: %d %q, want 200 \"hello v1\"", code, body)
			}
		})
	}
	// A good plugin set again: the old process still reloads.
	install(t, read(t, filepath.Join(dir, "v2", "hello.so")), plugins, "hello.so")
	removeFile(t, filepath.Join(plugins, "down.so"))
	removeFile(t, filepath.Join(c.settings, "opa.yaml"))
	from := c.Mark()
	if _, err := c.reload(); err != nil {
		t.Fatalf("reload after the failed ones: %v", err)
	}
	c.waitLine(from, "the old process to exit", exitedLine(first))
	if code, body := c.get("/hello"); code != http.StatusOK || body != "hello v2" {
		t.Errorf("GET /hello: %d %q, want 200 \"hello v2\"", code, body)
	}
	l.finish(t)
	out := c.Output()
	if !strings.Contains(out, "this new process failed to start") || !strings.Contains(out, "reload failed; this process keeps serving") {
		t.Errorf("the log does not show the failure in both processes:\n%s", out)
	}
	// Config.OnReload: each reload's outcome, in the process that tried it.
	if n := strings.Count(out, fmt.Sprintf("reload outcome=failed pid=%d\n", first)); n != 4 {
		t.Errorf("OnReload said failed %d times in process %d, want 4:\n%s", n, first, out)
	}
	if !strings.Contains(out, fmt.Sprintf("reload outcome=ok pid=%d\n", first)) {
		t.Errorf("OnReload did not say ok in process %d:\n%s", first, out)
	}
	// Each new process wrote why it failed, and its PID, into a directory
	// of the old process's own, not into the shared temporary directory,
	// where another user could have made the names first.
	if n, private := strings.Count(out, "reason dir mode="), strings.Count(out, "reason dir mode=-rwx------ "); n != 5 || private != n {
		t.Errorf("%d new processes wrote their reason into a private directory (mode -rwx------), want all 5:\n%s", private, out)
	}
}

// TestCopyOverALoadedPluginThenReload is the deploy by hand that used to
// kill the host: `cp` of a new build over the loaded hello.so (written into
// the same file, not renamed into place) while 20 clients call it. The
// host loaded a private copy, so it serves the code it loaded with no
// failed request; a reload then serves the new code.
func TestCopyOverALoadedPluginThenReload(t *testing.T) {
	dir := buildDir(t)
	plugins := t.TempDir()
	install(t, read(t, filepath.Join(dir, "v1", "hello.so")), plugins, "hello.so")
	c := startChain(t, plugins)
	l := startLoad(c.base, "/hello", 20, 50000)
	file := filepath.Join(plugins, "hello.so")
	before, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	// As cp does: open the existing file, truncate it, write.
	if err := os.WriteFile(file, read(t, filepath.Join(dir, "v2", "hello.so")), 0o755); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(file); err != nil || !os.SameFile(before, after) {
		t.Fatalf("the file was replaced, not written into (%v)", err)
	}
	for range 50 {
		if code, body := c.get("/hello"); code != http.StatusOK || body != "hello v1" {
			t.Fatalf("after cp: GET /hello: %d %q, want the loaded code's 200 \"hello v1\"", code, body)
		}
	}
	old := c.pid()
	from := c.Mark()
	if _, err := c.reload(); err != nil {
		l.finish(t)
		t.Fatalf("reload: %v", err)
	}
	c.waitLine(from, fmt.Sprintf("process %d to drain and exit", old), exitedLine(old))
	if code, body := c.get("/hello"); code != http.StatusOK || body != "hello v2" {
		t.Errorf("after the reload: GET /hello: %d %q, want 200 \"hello v2\"", code, body)
	}
	l.finish(t)
}

// TestReportedReloadMeansNewConnectionsReachTheNewProcess: once a reload's
// outcome is written (what Trigger and opa add wait for), the old process
// accepts no more connections, so a client that connects right after
// reads the new process. The test host's OnReload takes 300ms (it runs
// after the outcome is written), the outcome file is polled without pause,
// and each of 3 reloads is followed at once by 20 new connections: when
// the old process still accepted until its Exit, about half of them
// reached it.
func TestReportedReloadMeansNewConnectionsReachTheNewProcess(t *testing.T) {
	dir := buildDir(t)
	plugins := t.TempDir()
	install(t, read(t, filepath.Join(dir, "v1", "hello.so")), plugins, "hello.so")
	c := startChain(t, plugins, "-on-reload-delay", "300ms")
	for i := 1; i <= 3; i++ {
		old := c.pid()
		before, _ := os.ReadFile(c.pidFile + ".reload")
		if err := syscall.Kill(old, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		var outcome []byte
		for start := time.Now(); ; {
			outcome, _ = os.ReadFile(c.pidFile + ".reload")
			if len(outcome) > 0 && !bytes.Equal(outcome, before) {
				break
			}
			if time.Since(start) > deadline {
				t.Fatalf("reload %d: no outcome after %v", i, deadline)
			}
		}
		if !bytes.Contains(outcome, []byte(`"ok":true`)) {
			t.Fatalf("reload %d: %s", i, outcome)
		}
		pid := c.pid()
		for j := 0; j < 20; j++ {
			if code, body := c.get("/pid"); code != http.StatusOK || body != strconv.Itoa(pid) {
				t.Fatalf("reload %d, connection %d made after the outcome was written: GET /pid: %d %q, want the new process %d (the old one is %d)", i, j, code, body, pid, old)
			}
		}
		c.waitLine(0, fmt.Sprintf("process %d to drain and exit", old), exitedLine(old))
	}
}
