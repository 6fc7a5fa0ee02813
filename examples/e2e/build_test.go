// Package e2e tests the example host with the real example plugins: the
// host runs as a child process (never plugin.Open in this test binary: its
// build differs from the plugins'), built once per test binary with the
// same go command and this binary's own -race, and is spoken to over HTTP on
// a free loopback port.
package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// raceEnabled is set by flags_race_test.go under -race: the host and the
// plugins are then built with -race too, as they must match.
var raceEnabled bool

// cgoEnabled is set by flags_cgo_test.go: Go plugins need cgo.
var cgoEnabled bool

// buildDir holds host, worker and plugins/, laid out as `make examples` does.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "opa-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var built struct {
	once sync.Once
	err  error
}

// examplesBuilt builds the host, the worker and every example plugin once, and skips
// the test where Go plugins cannot work.
func examplesBuilt(t *testing.T) {
	t.Helper()
	testenv.Plugins(t, cgoEnabled)
	built.once.Do(func() { built.err = buildExamples(buildDir) })
	if built.err != nil {
		t.Fatalf("building the examples: %v", built.err)
	}
}

// raceFlags are the flags that must match between host and plugins.
func raceFlags(race bool) []string {
	if race {
		return []string{"-race"}
	}
	return nil
}

// buildExamples builds the host and the worker, then every plugin under ../plugins: a
// plugin with a meta.json is a directory plugin (NAME/plugin.so), any other
// a single file (NAME.so, with NAME-meta.json beside it if there is one).
func buildExamples(dir string) error {
	if err := goBuild(raceEnabled, filepath.Join(dir, "host"), "./host"); err != nil {
		return err
	}
	if err := goBuild(raceEnabled, filepath.Join(dir, "worker"), "./worker"); err != nil {
		return err
	}
	names, err := os.ReadDir("../plugins")
	if err != nil {
		return err
	}
	// The host built everything the plugins share; two at a time, the
	// plugins mostly link.
	errs := make(chan error, len(names))
	sem := make(chan struct{}, 2)
	for _, n := range names {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- buildPlugin(dir, n.Name())
		}()
	}
	for range names {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	return err
}

func buildPlugin(dir, name string) error {
	src := filepath.Join("../plugins", name)
	if _, err := os.Stat(filepath.Join(src, "meta.json")); err == nil {
		if err := copyFile(filepath.Join(src, "meta.json"), filepath.Join(dir, "plugins", name, "meta.json")); err != nil {
			return err
		}
		return goBuild(raceEnabled, filepath.Join(dir, "plugins", name, "plugin.so"), "./plugins/"+name, "-buildmode=plugin")
	}
	meta := filepath.Join(src, name+"-meta.json")
	if _, err := os.Stat(meta); err == nil {
		if err := copyFile(meta, filepath.Join(dir, "plugins", name+"-meta.json")); err != nil {
			return err
		}
	}
	return goBuild(raceEnabled, filepath.Join(dir, "plugins", name+".so"), "./plugins/"+name, "-buildmode=plugin")
}

// goBuild runs go build in the examples module, with -race when race.
func goBuild(race bool, out, pkg string, flags ...string) error {
	args := append([]string{"build"}, flags...)
	args = append(args, raceFlags(race)...)
	args = append(args, "-o", out, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
