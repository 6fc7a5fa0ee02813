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

	"github.com/opa-stack/opa-go"
)

// host is one run of the example host as a child process.
type host struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string        // http://127.0.0.1:PORT
	stdout *lockedBuffer // everything it printed
	stderr *lockedBuffer
	listen chan string   // gets base once, closed when stdout ends
	exited chan struct{} // closed when it has exited; then err is set
	err    error
}

// hostEnv is the environment of a host run: this process's, less any opa
// setting, plus the plugins built for the tests and an empty default plugin
// path. Each test adds its own settings to it.
func hostEnv(t *testing.T, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "OPA_") || name == "ENV" || name == "ADDR" || name == "DATA_DIR" {
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
func startHost(t *testing.T, dataDir string, env []string) *host {
	t.Helper()
	h := launch(t, dataDir, env)
	base, ok := <-h.listen
	if !ok {
		err := h.wait()
		t.Fatalf("host exited before listening: %v\nstdout:\n%s\nstderr:\n%s", err, h.stdout, h.stderr)
	}
	h.base = base
	return h
}

// launch starts the host and returns at once.
func launch(t *testing.T, dataDir string, env []string) *host {
	t.Helper()
	examplesBuilt(t)
	cmd := exec.Command(filepath.Join(buildDir, "host"),
		"-addr", "127.0.0.1:0", "-settings", settingsDir(t), "-data", dataDir)
	cmd.Env = env
	h := &host{t: t, cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{},
		listen: make(chan string, 1), exited: make(chan struct{})}
	cmd.Stderr = h.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go h.scan(out)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-h.exited
	})
	return h
}

// scan copies the host's stdout, sends the address it listens on to
// h.listen (closed at the end of stdout), and records how the host exited.
func (h *host) scan(out io.Reader) {
	const prefix = "opa example host listening on "
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		h.stdout.WriteString(line + "\n")
		if base, ok := strings.CutPrefix(line, prefix); ok {
			h.listen <- base
		}
	}
	_, _ = io.Copy(io.Discard, out)
	close(h.listen)
	h.err = h.cmd.Wait()
	close(h.exited)
}

// wait waits for the host to exit by itself and returns how it did.
func (h *host) wait() error {
	<-h.exited
	return h.err
}

// stop sends SIGTERM and requires a clean exit: a graceful shutdown.
func (h *host) stop() {
	h.t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		h.t.Fatal(err)
	}
	if err := h.wait(); err != nil {
		h.t.Fatalf("host did not exit cleanly on SIGTERM: %v\nstderr:\n%s", err, h.stderr)
	}
}

// do sends a request and returns the status and body.
func (h *host) do(method, path, body string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
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

func (h *host) get(path string) (int, string) { h.t.Helper(); return h.do("GET", path, "") }

// report fetches /opa/report.
func (h *host) report() opa.Report {
	h.t.Helper()
	code, body := h.get("/opa/report")
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
