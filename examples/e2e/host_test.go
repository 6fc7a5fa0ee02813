package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opa-stack/opa-go"
)

// proc is one run of the example host, or of the example worker, as a
// child process.
type proc struct {
	t      *testing.T
	name   string // host or worker
	cmd    *exec.Cmd
	base   string        // the host's http://127.0.0.1:PORT
	admin  string        // the host's private listener (report, River UI): http://127.0.0.1:PORT
	stdout *lockedBuffer // everything it printed
	stderr *lockedBuffer
	ready  chan string   // gets the rest of its ready line once, closed when stdout ends
	exited chan struct{} // closed when it has exited; then err is set
	err    error
}

// What the host and the worker print once they are ready.
const (
	hostReady   = "opa example host listening on "
	hostAdmin   = "opa example host operator views (private) on " // printed before hostReady
	workerReady = "opa example worker running "
)

// hostEnv is the environment of a host run: this process's, less any opa
// setting, plus the plugins built for the tests and an empty default plugin
// path. Each test adds its own settings to it.
func hostEnv(t *testing.T, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "OPA_") || name == "ENV" || name == "ADDR" || name == "ADMIN_ADDR" || name == "DATA_DIR" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"OPA_PLUGIN_PATHS="+filepath.Join(buildDir, "plugins"),
		"OPA_PLUGIN_DEFAULT_PATH="+t.TempDir(),
		// No test may find a Redis it did not start: a closed port unless
		// the test says otherwise (a later variable of one name wins).
		"OPA_OPTIONAL_COMPONENTS__REDIS__OPTS__ADDR="+closedAddr(t),
		// The operator's views on a free port too: never one a running
		// make run (or another test) holds. Not spelt as -addr's
		// 127.0.0.1:0: a reload hands listeners over by address.
		"ADMIN_ADDR=localhost:0",
	)
	return append(env, extra...)
}

// settingsDir is the examples' own settings directory.
func settingsDir(t *testing.T) string {
	dir, err := filepath.Abs("../settings")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// startHost starts the example host with the example settings, data in
// dataDir and env (see hostEnv), and waits until it listens. It fails the
// test if the host exits first. The host is killed at the end of the test
// if it still runs.
func startHost(t *testing.T, dataDir string, env []string) *proc {
	t.Helper()
	h := launch(t, dataDir, env)
	h.base = h.awaitReady("listening")
	h.admin = h.adminBase()
	return h
}

// adminBase returns the address of the host's private listener, from the
// line it prints before it says it listens ("" if it printed none).
func (p *proc) adminBase() string {
	for _, line := range strings.Split(p.stdout.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, hostAdmin); ok {
			return rest
		}
	}
	return ""
}

// launch starts the host and returns at once.
func launch(t *testing.T, dataDir string, env []string) *proc {
	t.Helper()
	return launchProc(t, "host", env, hostReady, "-addr", "127.0.0.1:0", "-settings", settingsDir(t), "-data", dataDir)
}

// startWorker starts the example worker as the host is started (the same
// settings, data in dataDir, env), and waits until it works. It fails the
// test if the worker exits first; it is killed at the end of the test if it
// still runs.
func startWorker(t *testing.T, dataDir string, env []string) *proc {
	t.Helper()
	w := launchProc(t, "worker", env, workerReady, "-settings", settingsDir(t), "-data", dataDir)
	w.awaitReady("working")
	return w
}

// launchProc starts the built program name with args and env, and returns
// at once.
func launchProc(t *testing.T, name string, env []string, ready string, args ...string) *proc {
	t.Helper()
	examplesBuilt(t)
	cmd := exec.Command(filepath.Join(buildDir, name), args...)
	cmd.Env = env
	p := &proc{t: t, name: name, cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{},
		ready: make(chan string, 1), exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.scan(out, ready)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// scan copies the process's stdout, sends the rest of the line that starts
// with ready to p.ready (closed at the end of stdout), and records how the
// process exited.
func (p *proc) scan(out io.Reader, ready string) {
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		p.stdout.WriteString(line + "\n")
		if rest, ok := strings.CutPrefix(line, ready); ok {
			p.ready <- rest
		}
	}
	_, _ = io.Copy(io.Discard, out)
	close(p.ready)
	p.err = p.cmd.Wait()
	close(p.exited)
}

// procDeadline bounds the wait for a host or worker to be ready, to exit,
// or to answer a request.
const procDeadline = 2 * time.Minute

// awaitReady waits for the process's ready line and returns the rest of it;
// it fails the test if the process exits first, or after procDeadline.
func (p *proc) awaitReady(what string) string {
	p.t.Helper()
	select {
	case rest, ok := <-p.ready:
		if ok {
			return rest
		}
		err := p.wait()
		p.t.Fatalf("%s exited before %s: %v\nstdout:\n%s\nstderr:\n%s", p.name, what, err, p.stdout, p.stderr)
	case <-time.After(procDeadline):
		p.t.Fatalf("%s not %s after %s (no ready line)\nstdout:\n%s\nstderr:\n%s", p.name, what, procDeadline, p.stdout, p.stderr)
	}
	return ""
}

// wait waits, up to procDeadline, for the process to exit by itself and
// returns how it did.
func (p *proc) wait() error {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(procDeadline):
		p.t.Fatalf("%s did not exit within %s\nstderr:\n%s", p.name, procDeadline, p.stderr)
		return nil
	}
}

// stop sends SIGTERM and requires a clean exit: a graceful shutdown.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	if err := p.wait(); err != nil {
		p.t.Fatalf("%s did not exit cleanly on SIGTERM: %v\nstderr:\n%s", p.name, err, p.stderr)
	}
}

// do sends a request to the public listener and returns the status and
// body.
func (h *proc) do(method, path, body string) (int, string) {
	h.t.Helper()
	return h.doAt(h.base, method, path, body)
}

// doAt sends a request to base (h.base or h.admin).
func (h *proc) doAt(base, method, path, body string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: procDeadline}).Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v\nstderr:\n%s", method, path, err, h.stderr)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (h *proc) get(path string) (int, string) { h.t.Helper(); return h.do("GET", path, "") }

// report fetches /opa/report from the private listener.
func (h *proc) report() opa.Report {
	h.t.Helper()
	code, body := h.doAt(h.admin, "GET", "/opa/report", "")
	if code != http.StatusOK {
		h.t.Fatalf("GET /opa/report: %d %s", code, body)
	}
	var rep opa.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		h.t.Fatalf("report is not JSON: %v\n%s", err, body)
	}
	return rep
}

// lockedBuffer is a bytes.Buffer safe for one writer and many readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) WriteString(s string) { _, _ = b.Write([]byte(s)) }

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
