package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// The opa binary is built once, with this test binary's -race, and every
// test runs it as a child process. The fixtures are the root package's test
// host and plugins (testdata/host, testdata/plugins/hello), built once from
// the repository root with the same flags, plus hello built with the
// opposite -race: a plugin the host refuses.

// shared is the directory the binaries are built into, removed by TestMain.
var shared struct {
	once sync.Once
	dir  string
	err  error
}

func sharedDir() (string, error) {
	shared.once.Do(func() { shared.dir, shared.err = os.MkdirTemp("", "opa-cmd-test-") })
	return shared.dir, shared.err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// repoRoot is the module root, two levels up.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return root
}

// raceFlags are the flags the binaries get to be built like this test.
func raceFlags(race bool) []string {
	if race {
		return []string{"-race"}
	}
	return nil
}

// goBuild runs go build with args in dir.
func goBuild(dir string, args ...string) error {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

var opaBuild = sync.OnceValues(func() (string, error) {
	dir, err := sharedDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "opa")
	return bin, goBuild(".", append(raceFlags(raceEnabled), "-o", bin, ".")...)
})

// opaBinary is the opa command built from this directory.
func opaBinary(t testing.TB) string {
	t.Helper()
	bin, err := opaBuild()
	require.NoError(t, err)
	return bin
}

// fixtureSet are the test host and two builds of the hello plugin.
type fixtureSet struct {
	host    string // testdata/host, built like this test
	hello   string // testdata/plugins/hello, built like the host
	flipped string // testdata/plugins/kv, built with the opposite -race
}

var fixtureBuild = sync.OnceValues(func() (fixtureSet, error) {
	dir, err := sharedDir()
	if err != nil {
		return fixtureSet{}, err
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return fixtureSet{}, err
	}
	f := fixtureSet{host: filepath.Join(dir, "host"), hello: filepath.Join(dir, "hello.so"), flipped: filepath.Join(dir, "flipped.so")}
	// The host first: it compiles what the plugins share, which then link.
	if err := goBuild(root, append(raceFlags(raceEnabled), "-o", f.host, "./testdata/host")...); err != nil {
		return f, err
	}
	errs := make(chan error, 2)
	go func() {
		errs <- goBuild(root, append(raceFlags(raceEnabled), "-buildmode=plugin", "-o", f.hello, "./testdata/plugins/hello")...)
	}()
	go func() {
		errs <- goBuild(root, append(raceFlags(!raceEnabled), "-buildmode=plugin", "-o", f.flipped, "./testdata/plugins/kv")...)
	}()
	return f, errors.Join(<-errs, <-errs)
})

// fixtures builds the host and plugins, or skips where Go plugins cannot
// work.
func fixtures(t testing.TB) fixtureSet {
	t.Helper()
	testenv.Plugins(t, cgoEnabled)
	f, err := fixtureBuild()
	require.NoError(t, err)
	return f
}

// result is what one run of opa did.
type result struct {
	code           int
	stdout, stderr string
}

// runOpa runs the opa binary in dir with args, and the environment of this
// process without OPA_ variables and ENV, plus env.
func runOpa(t testing.TB, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(opaBinary(t), args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPA_") && !strings.HasPrefix(kv, "ENV=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("opa %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"help"}, []string{"opa ls", "opa check --host BINARY FILE.so...", "opa build --host BINARY [-o DIR] [--no-downgrade] PACKAGE... | MODULE@VERSION...", "opa add --host BINARY", "opa remove", "opa init", "Examples:"}},
		{[]string{"--help"}, []string{"opa ls", "opa check", "opa build"}},
		{[]string{"ls", "--help"}, []string{"--settings DIR", "--env NAME", "--path DIR", "--default-path DIR", "--host BINARY", "--json", "Examples:\n  opa ls"}},
		{[]string{"help", "ls"}, []string{"--settings DIR", "--json"}},
		{[]string{"check", "-h"}, []string{"Usage: opa check --host BINARY FILE.so...", "--host BINARY", "Examples:\n  opa check --host"}},
		{[]string{"build", "--help"}, []string{"Usage: opa build", "--host BINARY", "-o DIR", "DIR/NAME.so", "Examples:\n  opa build --host"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := runOpa(t, ".", nil, tc.args...)
			assert.Equal(t, 0, res.code, res.stderr)
			assert.Empty(t, res.stderr)
			for _, f := range tc.flags {
				assert.Contains(t, res.stdout, f)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	notAHost := filepath.Join(dir, "notahost")
	require.NoError(t, os.WriteFile(notAHost, []byte("#!/bin/sh\n"), 0o755))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"frob"}, `opa: unknown command "frob" (commands: ls, check, build, add, remove, lock, fleet, init)`},
		{[]string{"help", "frob"}, `unknown command "frob"`},
		{[]string{"ls", "--bogus"}, "opa ls: flag provided but not defined: -bogus"},
		{[]string{"ls", "extra"}, `opa ls: unexpected argument "extra"`},
		{[]string{"ls", "--path", dir + "/nope"}, "opa ls: --path " + dir + "/nope: no such file or directory"},
		{[]string{"ls", "--settings", dir + "/nope"}, "opa ls: --settings " + dir + "/nope: no such file or directory"},
		{[]string{"ls", "--host", dir + "/nope"}, "opa ls: --host " + dir + "/nope: no such file or directory"},
		{[]string{"check", "x.so"}, "opa check: --host is required"},
		{[]string{"check", "--host", notAHost, "x.so"}, "opa check: --host " + notAHost + ": has no Go build information"},
		{[]string{"build", "-o"}, "opa build: flag needs an argument: -o"},
		{[]string{"build", "./plugin"}, "opa build: --host is required"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := runOpa(t, dir, nil, tc.args...)
			assert.Equal(t, 2, res.code)
			assert.Contains(t, res.stderr, tc.want)
			assert.Empty(t, res.stdout)
		})
	}
}

func TestUsageErrorsWithHost(t *testing.T) {
	f := fixtures(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--host", f.host}, "opa check: no FILE.so given"},
		{[]string{"check", "--host", f.host, "missing.so"}, "opa check: missing.so: no such file"},
		{[]string{"check", "--host", f.hello, f.hello}, "opa check: --host " + f.hello + ": is a plugin (-buildmode=plugin), not a host"},
		{[]string{"check", "--host", f.host, f.hello, "--json"}, "opa check: flag --json after the arguments: put flags first"},
		{[]string{"build", "--host", f.host}, "opa build: no PACKAGE given"},
		{[]string{"build", "--host", f.host, "./nope"}, "opa build: ./nope: no such package directory"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := runOpa(t, repoRoot(t), nil, tc.args...)
			assert.Equal(t, 2, res.code)
			assert.Contains(t, res.stderr, tc.want)
		})
	}
}
