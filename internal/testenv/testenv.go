// Package testenv is the one place where a test says what it needs from the
// machine: a command (redis-server, chromium, go), a service (Postgres), a
// resolver that answers, cgo and Go plugins, or root. Outside CI a test that
// lacks one skips, and the skip says how to get it; under CI=true (set by
// .ci/run) it fails instead, since CI must run everything. After Go's own
// internal/testenv (MustHaveExec and friends). It also holds Group, the
// output of a process a test starts and of those that replace it on a
// graceful reload.
//
// Every module of the repository imports it (examples, river and bench too:
// their import paths are under this module's).
package testenv

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// InCI reports whether CI=true: every prerequisite must then be there.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing stops the test for a prerequisite the machine lacks: what names
// it, install says how to get it. It fails the test under CI=true, and
// skips it elsewhere.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	msg := what + " is missing: " + install
	if InCI() {
		t.Fatal(msg + " (CI=true: every test must run)")
	}
	t.Skip(msg + " (skipped; under CI=true this fails)")
}

// Command returns the path of the named command, or stops the test (see
// Missing) with install as the way to get it.
func Command(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "the command "+name, install)
	}
	return p
}

// Plugins stops the test where Go plugins cannot be built and loaded: they
// need linux, darwin or freebsd (elsewhere the test is skipped, as there is
// nothing to install) and cgo with a C compiler (see Missing). cgo says
// whether the calling test binary was built with cgo.
func Plugins(t testing.TB, cgo bool) {
	t.Helper()
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd":
	default:
		t.Skipf("Go plugins work on linux, darwin and freebsd only, not %s", runtime.GOOS)
	}
	if !cgo {
		Missing(t, "cgo (Go plugins need it)", "install a C compiler (apt-get install -y gcc) and run with CGO_ENABLED=1")
	}
}

// Root stops the test unless it runs as root; why says what needs it.
func Root(t testing.TB, why string) {
	t.Helper()
	if runtime.GOOS == "windows" || os.Geteuid() != 0 {
		Missing(t, "root ("+why+")", "run the tests as root (sudo -E make test)")
	}
}

// Unix skips the test on windows, which has no owner or mode bits: an
// operating system, not a prerequisite to install.
func Unix(t testing.TB) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no owner or mode bits on windows")
	}
}
