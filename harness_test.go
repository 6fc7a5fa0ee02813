package opa_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/opa-stack/opa-go/internal/testenv"
)

// The real-plugin harness: the test hosts (testdata/host, driven by flags,
// testdata/readmehost, the README's host on the package-level API with a
// route for the tests, and testdata/readmemain, the README's complete host
// word for word) and the fixture
// plugins (testdata/plugins/*) are built once per test binary, with the same
// toolchain and the test binary's own -race, and the host runs as a child
// process. plugin.Open must not run inside this test binary: its opa package
// differs from the one the plugins are built against (a test binary's copy
// of the package has its tests in it), so plugin.Open would refuse every
// plugin as built with a different version of package opa.

var fixtures struct {
	once sync.Once
	dir  string
	err  error
}

// fixtureDir holds the host binary and NAME.so for every fixture plugin.
func fixtureDir(t testing.TB) string {
	t.Helper()
	testenv.Plugins(t, cgoEnabled)
	fixtures.once.Do(func() { fixtures.dir, fixtures.err = buildFixtures() })
	if fixtures.err != nil {
		t.Fatalf("building fixtures: %v", fixtures.err)
	}
	return fixtures.dir
}

// buildFlags are the flags that must match between host and plugins.
func buildFlags() []string {
	if raceEnabled {
		return []string{"-race"}
	}
	return nil
}

func buildFixtures() (string, error) {
	dir, err := os.MkdirTemp("", "opa-fixtures-")
	if err != nil {
		return "", err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	names, err := os.ReadDir("testdata/plugins")
	if err != nil {
		return "", err
	}
	jobs := [][]string{
		append(append([]string{"build"}, buildFlags()...), "-o", filepath.Join(dir, "host"), "./testdata/host"),
		append(append([]string{"build"}, buildFlags()...), "-o", filepath.Join(dir, "readmehost"), "./testdata/readmehost"),
		append(append([]string{"build"}, buildFlags()...), "-o", filepath.Join(dir, "readmemain"), "./testdata/readmemain"),
	}
	for _, n := range names {
		jobs = append(jobs, append(append([]string{"build", "-buildmode=plugin"}, buildFlags()...),
			"-o", filepath.Join(dir, n.Name()+".so"), "./testdata/plugins/"+n.Name()))
	}
	// Build the host first: it compiles everything the plugins share, so the
	// plugin builds after it only link.
	if err := goCmd(jobs[0]...); err != nil {
		return "", err
	}
	errs := make(chan error, len(jobs))
	sem := make(chan struct{}, 2)
	for _, j := range jobs[1:] {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- goCmd(j...)
		}()
	}
	for range jobs[1:] {
		if err := <-errs; err != nil {
			return "", err
		}
	}
	return dir, nil
}

func goCmd(args ...string) error { return goCmdIn(".", args...) }

// goCmdIn runs the go command in dir.
func goCmdIn(dir string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// cleanups run after all tests (see TestMain).
var cleanups []func()

func TestMain(m *testing.M) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	os.Exit(code)
}

// hostResult is what the test host prints.
type hostResult struct {
	StartupError  string     `json:"startup_error"`
	Report        opa.Report `json:"report"`
	Gets          []hostGet  `json:"gets"`
	Calls         []hostCall `json:"calls"`
	ShutdownError string     `json:"shutdown_error"`
	NoManager     bool       `json:"no_manager"` // -package: opa.GetManager() was nil after Startup
	Stderr        string     `json:"-"`
}

type hostGet struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
	Body   string `json:"body"`
	Host   string `json:"host_header"`
}

type hostCall struct {
	Name   string `json:"name"`
	Result []any  `json:"result"`
	Error  string `json:"error"`
}

// plugin returns the report of the named plugin, failing the test if absent.
func (r hostResult) plugin(t testing.TB, name string) opa.PluginReport {
	t.Helper()
	for _, p := range r.Report.Plugins {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no plugin %q in report: %+v", name, r.Report.Plugins)
	return opa.PluginReport{}
}

// sandbox is a scratch layout for one host run: plugin paths, a settings
// directory and an empty default plugin path.
type sandbox struct {
	t        testing.TB
	root     string
	fixtures string
	host     string // the host binary; the fixture host unless set
	env      []string
}

func newSandbox(t testing.TB) *sandbox {
	s := &sandbox{t: t, root: t.TempDir(), fixtures: fixtureDir(t)}
	s.env = []string{
		"OPA_SETTINGS_DIR=" + s.mkdir("settings"),
		"OPA_PLUGIN_DEFAULT_PATH=" + s.path("default"),
	}
	return s
}

func (s *sandbox) path(rel string) string { return filepath.Join(s.root, rel) }

func (s *sandbox) mkdir(rel string) string {
	s.t.Helper()
	p := s.path(rel)
	if err := os.MkdirAll(p, 0o755); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// place puts a copy of fixture plugin NAME.so at rel (e.g. "p1/x.so" or
// "p1/x/plugin.so"), creating directories.
func (s *sandbox) place(fixture, rel string) string {
	s.t.Helper()
	return s.link(filepath.Join(s.fixtures, fixture+".so"), rel)
}

// link puts a hard link to (or a copy of) file at rel.
func (s *sandbox) link(file, rel string) string {
	s.t.Helper()
	dst := s.path(rel)
	s.mkdir(filepath.Dir(rel))
	if err := os.Link(file, dst); err != nil {
		if err := copyFile(file, dst); err != nil {
			s.t.Fatal(err)
		}
	}
	return dst
}

// write writes a file at rel.
func (s *sandbox) write(rel, content string) string {
	s.t.Helper()
	s.mkdir(filepath.Dir(rel))
	p := s.path(rel)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return p
}

func (s *sandbox) setenv(kv ...string) { s.env = append(s.env, kv...) }

// run starts the host with the sandbox's environment and args, and decodes
// what it prints.
func (s *sandbox) run(args ...string) hostResult {
	s.t.Helper()
	return s.runWithin(0, args...)
}

// runWithin is run for a host that might hang: it is killed, and the test
// fails, if it has not exited within limit (0: no limit).
func (s *sandbox) runWithin(limit time.Duration, args ...string) hostResult {
	s.t.Helper()
	host := s.host
	if host == "" {
		host = filepath.Join(s.fixtures, "host")
	}
	ctx := context.Background()
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, host, args...)
	cmd.Env = append(cleanEnv(), s.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			s.t.Fatalf("host %v did not exit within %s (blocked?)\nstderr:\n%s", args, limit, stderr.String())
		}
		s.t.Fatalf("host %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
	}
	var res hostResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		s.t.Fatalf("host output is not JSON: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	res.Stderr = stderr.String()
	return res
}

// cleanEnv is this process's environment without OPA_ settings or ENV.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OPA_") || strings.HasPrefix(kv, "ENV=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// readmeHost is a running testdata/readmehost: the README's host, serving
// HTTP on a port it picked itself.
type readmeHost struct {
	t      testing.TB
	cmd    *exec.Cmd
	base   string // http://ADDR
	stderr *bytes.Buffer
	done   chan struct{} // closed when it has exited; err is then set
	err    error
}

// readmeDeadline bounds the host's start, its stop and each request.
const readmeDeadline = 2 * time.Minute

// serve starts the README host with the sandbox's environment and waits for
// its "listening on ADDR" line. It fails the test when the host exits
// first, and kills the host at the end of the test if it still runs.
func (s *sandbox) serve() *readmeHost { return s.serveFixture("readmehost") }

// serveFixture is serve of the fixture host binary name (readmehost, or
// readmemain: the README's complete host as written there).
func (s *sandbox) serveFixture(name string) *readmeHost {
	s.t.Helper()
	h := &readmeHost{t: s.t, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	h.cmd = exec.Command(filepath.Join(s.fixtures, name))
	h.cmd.Env = append(cleanEnv(), s.env...)
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	h.cmd.Stderr = &lockedWriter{w: h.stderr}
	if err := h.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = h.cmd.Stderr.Write([]byte(sc.Text() + "\n"))
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
		h.err = h.cmd.Wait()
		close(h.done)
	}()
	s.t.Cleanup(func() {
		_ = h.cmd.Process.Kill() // an error when it has exited
		<-h.done
	})
	select {
	case a := <-addr:
		h.base = "http://" + a
	case <-h.done:
		s.t.Fatalf("the README host exited (%v) before it listened; stderr:\n%s", h.err, h.stderrText())
	case <-time.After(readmeDeadline):
		s.t.Fatalf("the README host did not print \"listening on\" within %s; stderr:\n%s", readmeDeadline, h.stderrText())
	}
	return h
}

// get GETs path from the host and returns the status and body.
func (h *readmeHost) get(path string) (int, string) {
	h.t.Helper()
	c := http.Client{Timeout: readmeDeadline}
	resp, err := c.Get(h.base + path)
	if err != nil {
		h.t.Fatalf("GET %s: %v; stderr:\n%s", path, err, h.stderrText())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// stop sends SIGTERM and waits for a clean exit; it returns what the host
// printed (stdout lines and stderr, as they came).
func (h *readmeHost) stop() string {
	h.t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		h.t.Fatal(err)
	}
	select {
	case <-h.done:
		if h.err != nil {
			h.t.Fatalf("the README host exited with %v after SIGTERM; stderr:\n%s", h.err, h.stderrText())
		}
	case <-time.After(readmeDeadline):
		h.t.Fatalf("the README host did not exit within %s of SIGTERM; stderr:\n%s", readmeDeadline, h.stderrText())
	}
	return h.stderrText()
}

func (h *readmeHost) stderrText() string {
	return h.cmd.Stderr.(*lockedWriter).String()
}

// lockedWriter is a writer a child process and the test share.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
