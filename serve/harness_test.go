package serve_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opa-stack/opa-go/internal/testenv"
	"github.com/opa-stack/opa-go/serve"
)

// deadline bounds every wait of these tests: for a line, a reload, a
// drain. It is slack for a loaded machine and the race detector.
const deadline = 90 * time.Second

// built holds the test host and plugins, built once.
var built struct {
	once sync.Once
	dir  string
	err  error
}

// buildDir builds the test host and, in DIR/v1 ... DIR/v6, the hello plugin
// answering "hello vN", and DIR/needy.so, DIR/crashy.so, DIR/down.so and
// DIR/stuck.so; once per test binary.
func buildDir(t testing.TB) string {
	t.Helper()
	testenv.Plugins(t, cgoEnabled)
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "serve-test-")
		if built.err != nil {
			return
		}
		built.err = build(built.dir)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

func goBuild(args ...string) error {
	flags := []string{"build"}
	if raceEnabled {
		flags = append(flags, "-race")
	}
	cmd := exec.Command("go", append(flags, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
	return nil
}

func build(dir string) error {
	if err := goBuild("-o", filepath.Join(dir, "testhost"), "./internal/testhost"); err != nil {
		return err
	}
	for _, name := range []string{"needy", "crashy", "down", "stuck"} {
		if err := goBuild("-buildmode=plugin", "-o", filepath.Join(dir, name+".so"), "./internal/testplugins/"+name); err != nil {
			return err
		}
	}
	for v := 1; v <= 6; v++ {
		out := filepath.Join(dir, fmt.Sprintf("v%d", v), "hello.so")
		if err := goBuild("-buildmode=plugin", fmt.Sprintf("-ldflags=-X=main.version=%d", v), "-o", out, "./internal/testplugins/hello"); err != nil {
			return err
		}
	}
	return nil
}

// install puts src into dir as name the way opa build does: a hidden file,
// renamed into place. Discovery never sees a partial file.
func install(t testing.TB, src []byte, dir, name string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chain is a test host and every process that replaced it on a reload
// (see testenv.Group).
type chain struct {
	*testenv.Group
	t        testing.TB
	pidFile  string
	base     string
	settings string // OPA_SETTINGS_DIR of the chain and its reloads
}

// startChain starts the test host on loopback with the plugins of
// pluginDir and the flags args, and waits until it serves.
func startChain(t testing.TB, pluginDir string, args ...string) *chain {
	t.Helper()
	dir := buildDir(t)
	c := &chain{t: t, pidFile: filepath.Join(t.TempDir(), "testhost.pid"), settings: t.TempDir()}
	cmd := exec.Command(filepath.Join(dir, "testhost"), append([]string{"-addr", "127.0.0.1:0", "-pidfile", c.pidFile}, args...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPA_") && !strings.HasPrefix(kv, "ENV=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "OPA_SETTINGS_DIR="+c.settings, "OPA_PLUGIN_PATHS="+pluginDir, "OPA_PLUGIN_DEFAULT_PATH="+t.TempDir())
	c.Group = testenv.StartGroup(t, "the test host", cmd)
	line := c.waitLine(0, "the test host to serve", func(l string) bool { return strings.HasPrefix(l, "ready ") })
	c.base = strings.Fields(line)[1]
	return c
}

// waitLine waits, bounded by deadline, for a line at index from or later
// (see Mark) that match accepts, and returns it.
func (c *chain) waitLine(from int, what string, match func(string) bool) string {
	c.t.Helper()
	return c.MustWait(c.t, from, deadline, what, match)
}

// reload triggers a reload through the PID file and returns the new PID,
// or the trigger's error.
func (c *chain) reload() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	return serve.Trigger(ctx, c.pidFile)
}

// pid is what the PID file says.
func (c *chain) pid() int {
	c.t.Helper()
	pid, err := serve.ReadPID(c.pidFile)
	if err != nil {
		c.t.Fatal(err)
	}
	return pid
}

// get sends a request on a new connection and returns the status and body.
func (c *chain) get(path string) (int, string) {
	c.t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: deadline}
	resp, err := client.Get(c.base + path)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// load is a bounded request loop: clients concurrent clients, each sending
// GET path on keep-alive connections until stop is called or it has sent
// max requests. Its client never retries: net/http's Transport resends a
// GET that failed on a reused connection, which would hide a request the
// server lost at a handover (one lost as a keep-alive connection closes
// while the client sends on it). Each client speaks HTTP/1.1 itself, keeps
// its connection while the server lets it (no "Connection: close"), and
// counts any error as a failed request.
type load struct {
	stop     chan struct{}
	done     sync.WaitGroup
	sent     atomic.Int64
	failures atomic.Int64
	mu       sync.Mutex
	errs     []string // the first failures
}

func startLoad(base, path string, clients, max int) *load {
	l := &load{stop: make(chan struct{})}
	addr := strings.TrimPrefix(base, "http://")
	for range clients {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			var cl rawClient
			defer cl.close()
			for range max {
				select {
				case <-l.stop:
					return
				default:
				}
				l.sent.Add(1)
				if err := cl.get(addr, path); err != nil {
					l.failures.Add(1)
					l.mu.Lock()
					if len(l.errs) < 10 {
						l.errs = append(l.errs, err.Error())
					}
					l.mu.Unlock()
				}
			}
		}()
	}
	return l
}

// rawClient is one HTTP/1.1 keep-alive connection that is never retried.
type rawClient struct {
	conn   net.Conn
	br     *bufio.Reader
	reused bool
}

// get sends GET path on the connection (a new one if there is none) and
// reads the answer; a 5xx is an error. The connection is kept unless the
// server said "Connection: close" or an error ended it.
func (c *rawClient) get(addr, path string) error {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", addr, deadline)
		if err != nil {
			return err
		}
		c.conn, c.br, c.reused = conn, bufio.NewReader(conn), false
	}
	err := c.roundTrip(addr, path)
	if err != nil {
		err = fmt.Errorf("GET %s (reused connection: %t): %w", path, c.reused, err)
		c.close()
		return err
	}
	c.reused = true
	return nil
}

func (c *rawClient) roundTrip(addr, path string) error {
	_ = c.conn.SetDeadline(time.Now().Add(deadline))
	if _, err := fmt.Fprintf(c.conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.Close {
		c.close()
	}
	if resp.StatusCode >= 500 {
		return errors.New(resp.Status)
	}
	return nil
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// finish stops the loop, waits for it, and fails the test on any failed
// request.
func (l *load) finish(t testing.TB) {
	t.Helper()
	close(l.stop)
	l.done.Wait()
	t.Logf("%d requests, %d failed", l.sent.Load(), l.failures.Load())
	if n := l.failures.Load(); n > 0 {
		t.Errorf("%d of %d requests failed, first: %s", n, l.sent.Load(), strings.Join(l.errs, "; "))
	}
}

func removeFile(t testing.TB, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
