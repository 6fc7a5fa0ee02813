package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opa-stack/opa-go/internal/testenv"
	"github.com/opa-stack/opa-go/serve"
)

// chainProc is an example program and every process that replaced it on
// a reload (see testenv.Group).
type chainProc struct {
	*testenv.Group
	t       *testing.T
	pidFile string
}

// startChain starts the built program name with args and env.
func startChain(t *testing.T, name string, env []string, args ...string) *chainProc {
	t.Helper()
	examplesBuilt(t)
	c := &chainProc{t: t, pidFile: filepath.Join(t.TempDir(), name+".pid")}
	cmd := exec.Command(filepath.Join(buildDir, name), append(args, "-pidfile", c.pidFile)...)
	cmd.Env = env
	c.Group = testenv.StartGroup(t, name, cmd)
	return c
}

// waitLine waits, bounded by countDeadline, for a line from index from on
// (see Mark) that starts with prefix, and returns its rest.
func (c *chainProc) waitLine(from int, prefix string) string {
	c.t.Helper()
	line := c.MustWait(c.t, from, countDeadline, strconv.Quote(prefix), func(l string) bool { return strings.HasPrefix(l, prefix) })
	return strings.TrimPrefix(line, prefix)
}

// waitContains waits, bounded by countDeadline, for a line from index from
// on that contains part, and returns it.
func (c *chainProc) waitContains(from int, part string) string {
	c.t.Helper()
	return c.MustWait(c.t, from, countDeadline, fmt.Sprintf("a line with %q", part), func(l string) bool { return strings.Contains(l, part) })
}

// reload triggers a reload through the PID file, as a deploy script does.
func (c *chainProc) reload() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), countDeadline)
	defer cancel()
	return serve.Trigger(ctx, c.pidFile)
}

// stop sends SIGTERM to the serving process and waits until every process
// of the chain has exited.
func (c *chainProc) stop() {
	c.t.Helper()
	pid, err := serve.ReadPID(c.pidFile)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.Wait(0, countDeadline, nil); err != nil {
		c.t.Fatalf("waiting for every process to exit: %v", err)
	}
}

// requestLoop is a bounded request loop: 20 clients send GET path until
// stop is closed, at most max requests each; it counts failures (connection
// errors and 5xx).
func requestLoop(base, path string, max int) (stop func(t *testing.T)) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var sent, failed atomic.Int64
	var first atomic.Value
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 20}, Timeout: countDeadline}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range max {
				select {
				case <-done:
					return
				default:
				}
				sent.Add(1)
				resp, err := client.Get(base + path)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 500 {
						err = fmt.Errorf("%s", resp.Status)
					}
				}
				if err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	return func(t *testing.T) {
		t.Helper()
		close(done)
		wg.Wait()
		t.Logf("%d requests, %d failed", sent.Load(), failed.Load())
		if failed.Load() > 0 {
			t.Errorf("%d of %d requests failed, first: %v", failed.Load(), sent.Load(), first.Load())
		}
	}
}

// TestWorkerReloadRunsEveryJobOnce: jobs that take a while are running
// when the worker reloads; the new worker takes the queued ones, the old
// one finishes its running ones, and every job runs exactly once. All but
// the first two jobs wait for a gate that opens once the old worker has
// stopped taking jobs, so that jobs are still queued then, however long
// the reload takes: without it, the old worker once ran all 40 before the
// new one worked ("the new worker ran no job").
func TestWorkerReloadRunsEveryJobOnce(t *testing.T) {
	examplesBuilt(t)
	plugins := t.TempDir()
	if err := goBuild(raceEnabled, filepath.Join(plugins, "sleeper.so"), "./e2e/testdata/sleeper", "-buildmode=plugin"); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	env := hostEnv(t, "OPA_PLUGIN_PATHS="+plugins, "OPA_OPTIONAL_COMPONENTS__DB__LOAD=no", ownQueue[0], ownQueue[1], "OPA_OPTIONAL_COMPONENTS__REDIS__LOAD=no")
	h := startHost(t, data, env)
	w := startChain(t, "worker", env, "-settings", settingsDir(t), "-data", data)
	w.waitLine(0, workerReady)
	ran := filepath.Join(t.TempDir(), "ran")
	gate := filepath.Join(t.TempDir(), "gate")
	const jobs = 40
	for i := 1; i <= jobs; i++ {
		q := fmt.Sprintf("/nap?id=%d&ms=300&file=%s", i, ran)
		if i > 2 {
			q += "&gate=" + gate
		}
		expect(t, h, "POST", q, "", http.StatusOK, "")
	}
	// Reload once some jobs have run: others are running then.
	waitFile(t, ran, func(b string) bool { return strings.Count(b, "\n") >= 2 })
	old, err := serve.ReadPID(w.pidFile)
	if err != nil {
		t.Fatal(err)
	}
	from := w.Mark()
	pid, err := w.reload()
	if err != nil {
		t.Fatalf("worker reload: %v", err)
	}
	w.waitLine(from, workerReady)
	w.waitContains(from, "a new worker works: finishing the running jobs")
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFile(t, ran, func(b string) bool { return strings.Count(b, "\n") >= jobs })
	w.stop()
	h.stop()

	b, err := os.ReadFile(ran)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string][]string{}
	byPID := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		id, p, _ := strings.Cut(l, " ")
		runs[id] = append(runs[id], p)
		byPID[p]++
	}
	var bad []string
	for i := 1; i <= jobs; i++ {
		if n := len(runs[fmt.Sprint(i)]); n != 1 {
			bad = append(bad, fmt.Sprintf("job %d ran %d times", i, n))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("not every job ran exactly once: %s", strings.Join(bad, ", "))
	}
	t.Logf("jobs run by the old worker %d: %d, by the new worker %d: %d", old, byPID[fmt.Sprint(old)], pid, byPID[fmt.Sprint(pid)])
	if byPID[fmt.Sprint(pid)] == 0 {
		t.Errorf("the new worker ran no job")
	}
}

// waitFile polls a file until ok accepts its content, bounded by
// countDeadline.
func waitFile(t *testing.T, path string, ok func(string) bool) {
	t.Helper()
	var b []byte
	if !poll(func() bool { b, _ = os.ReadFile(path); return ok(string(b)) }) {
		t.Fatalf("waited %s for %s, it holds:\n%s", countDeadline, path, b)
	}
}

// TestRunScriptHostReloadsOnSIGHUP: the host that make run starts reloads
// on kill -HUP with no failed request, and run.sh keeps running, then
// stops the new host and the worker on SIGTERM.
func TestRunScriptHostReloadsOnSIGHUP(t *testing.T) {
	c := runScript(t, "127.0.0.1:0")
	base := c.waitLine(0, hostReady)
	stop := requestLoop(base, "/hello", 5000)
	old, err := serve.ReadPID(filepath.Join(buildDir, "host.pid"))
	if err != nil {
		t.Fatal(err)
	}
	from := c.Mark()
	if err := syscall.Kill(old, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	c.waitLine(from, hostReady) // a second host listens
	c.MustWait(t, from, countDeadline, "the old host to say it drains", func(l string) bool {
		return strings.Contains(l, "serve: reloaded; this process drains and exits") && strings.Contains(l, "pid="+fmt.Sprint(old))
	})
	waitUntil(t, func() bool { return !processAlive(old) }, "the old host to exit")
	stop(t)
	if code, body := getOnce(t, base+"/hello"); code != http.StatusOK || body != "Hello from a plugin\n" {
		t.Errorf("GET /hello after the reload: %d %q", code, body)
	}
	if err := syscall.Kill(c.Cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = waitExit(t, c)
	waitUntil(t, func() bool {
		pid, err := serve.ReadPID(filepath.Join(buildDir, "host.pid"))
		return err != nil || !processAlive(pid)
	}, "the new host to exit")
	groupGone(t, c)
}

func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// waitUntil polls cond until it holds, bounded by countDeadline.
func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("waited %s for %s", countDeadline, what)
	}
}

// poll reports whether cond held within countDeadline: for what has no
// event to wait on, such as a process's end that is not the test's child.
func poll(cond func() bool) bool {
	deadline := time.Now().Add(countDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func getOnce(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: countDeadline}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
