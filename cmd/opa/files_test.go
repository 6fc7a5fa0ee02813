package main

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/internal/testenv"
)

// A named pipe given as --pidfile or as fleet's --file is refused at once,
// before anything is installed or removed: reading it as a file waited
// for a writer for ever.
func TestOperatorFilesThatAreNotFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs here")
	}
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	require.NoError(t, os.Mkdir(plugins, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(plugins, "hello.so"), []byte("not really a plugin"), 0o644))
	fifo := filepath.Join(dir, "host.pid")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))

	res := runOpa(t, dir, nil, "remove", "--path", plugins, "--pidfile", fifo, "hello")
	assert.Equal(t, 2, res.code, res.stderr)
	assert.Contains(t, res.stderr, "opa remove: --pidfile: "+fifo+" is a named pipe (FIFO), not a regular file: a PID file must be a regular file")
	assert.FileExists(t, filepath.Join(plugins, "hello.so"), "nothing is removed")

	// opa add copies a .so, and the meta.json beside it, into the plugin
	// directory: a named pipe as either is refused, nothing installed.
	f := fixtures(t)
	src := t.TempDir()
	fifoSO := filepath.Join(src, "piped.so")
	require.NoError(t, syscall.Mkfifo(fifoSO, 0o644))
	res = runOpa(t, dir, nil, "add", "--host", f.host, "--path", plugins, fifoSO)
	assert.Equal(t, 1, res.code, res.stderr)
	assert.Contains(t, res.stderr, fifoSO+" is a named pipe (FIFO), not a regular file")
	assert.NoFileExists(t, filepath.Join(plugins, "piped.so"))

	hello := filepath.Join(src, "hello.so")
	require.NoError(t, os.WriteFile(hello, readFile(t, f.hello), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(src, "hello-meta.json"), 0o644))
	before := readFile(t, filepath.Join(plugins, "hello.so"))
	meta := filepath.Join(plugins, "hello-meta.json")
	require.NoError(t, os.WriteFile(meta, []byte(`{"tags": ["old"]}`), 0o644))
	res = runOpa(t, dir, nil, "add", "--host", f.host, "--path", plugins, hello)
	assert.Equal(t, 1, res.code, res.stderr)
	assert.Contains(t, res.stderr, filepath.Join(src, "hello-meta.json")+" is a named pipe (FIFO), not a regular file")
	assert.Equal(t, before, readFile(t, filepath.Join(plugins, "hello.so")), "the plugin directory is as it was")
	assert.Equal(t, `{"tags": ["old"]}`, string(readFile(t, meta)), "the plugin directory is as it was")
	entries, err := os.ReadDir(plugins)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"hello.so", "hello-meta.json"}, names, "no backup or temporary file is left")

	res = runOpa(t, dir, nil, "fleet", "--file", fifo)
	assert.Equal(t, 2, res.code, res.stderr)
	assert.Contains(t, res.stderr, "opa fleet: --file "+fifo+" is a named pipe (FIFO), not a regular file: a list of report URLs must be a regular file")
}

func TestReadURLs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fleet.txt")
	require.NoError(t, os.WriteFile(file, []byte("# the fleet\nhttp://a:8080/opa/report\n\n  http://b:8080/opa/report  # b\nhttp://c/opa/report"), 0o644))
	urls, err := readURLs(file)
	require.NoError(t, err)
	assert.Equal(t, []string{"http://a:8080/opa/report", "http://b:8080/opa/report", "http://c/opa/report"}, urls)
}

func readFile(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	return b
}

// A report URL that answers without end is read up to a limit, not into
// memory whole (opa remove --report, opa fleet).
func TestDecodeReportStopsAtItsLimit(t *testing.T) {
	endless := io.MultiReader(strings.NewReader(`{"plugins": [{"name": "`), &repeatByte{'a'})
	var rep opa.Report
	err := decodeReport(endless, &rep, 1<<16)
	assert.EqualError(t, err, "not a report: it is more than 65536 bytes")

	require.NoError(t, decodeReport(strings.NewReader(`{"plugins": [{"name": "hello"}]}`), &rep, 1<<16))
	assert.Equal(t, "hello", rep.Plugins[0].Name)
	assert.ErrorContains(t, decodeReport(strings.NewReader(`<html>`), &rep, 1<<16), "not a report: invalid character")
}

// repeatByte reads as the same byte, for ever.
type repeatByte struct{ b byte }

func (r *repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b
	}
	return len(p), nil
}

// opa build copies the plugin's go.mod and go.sum into its temporary
// module: a named pipe as either is refused at once, a missing go.sum is
// none.
func TestCopyIfExists(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "go.sum")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	err := testenv.Returns(t, "copying a named pipe as go.sum", func() error { return copyIfExists(fifo, filepath.Join(dir, "copy")) })
	assert.EqualError(t, err, fifo+" is a named pipe (FIFO), not a regular file: a go.sum must be a regular file")
	assert.NoError(t, copyIfExists(filepath.Join(dir, "missing.sum"), filepath.Join(dir, "copy")))
	assert.NoFileExists(t, filepath.Join(dir, "copy"))

	mod := filepath.Join(dir, "go.mod")
	require.NoError(t, os.WriteFile(mod, []byte("module example.com/p\n"), 0o644))
	require.NoError(t, copyIfExists(mod, filepath.Join(dir, "copy")))
	assert.Equal(t, "module example.com/p\n", string(readFile(t, filepath.Join(dir, "copy"))))
}

// A --header without a colon is a usage error that shows the flag's first
// word, never the rest: it may be a token.
func TestFleetHeaderWithoutAColonHidesItsValue(t *testing.T) {
	res := runOpa(t, t.TempDir(), nil, "fleet", "--header", "Authorization Bearer s3cr3t-t0ken", "http://127.0.0.1:1/opa/report")
	assert.Equal(t, 2, res.code, res.stderr)
	assert.Contains(t, res.stderr, `--header "Authorization"...: want 'NAME: VALUE' (the value is not shown)`)
	assert.NotContains(t, res.stderr+res.stdout, "s3cr3t-t0ken")
}
