//go:build unix

package testenv

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// waitTimeout bounds the waits below that must succeed: slack for a loaded
// machine, never a measure.
const waitTimeout = 30 * time.Second

// TestGroupOutlivesItsFirstProcess: a line written by a process the first
// one left behind (as a reload leaves its replacement) is still read, and
// the output ends only when that process exits too.
func TestGroupOutlivesItsFirstProcess(t *testing.T) {
	sh := Command(t, "sh", "apt-get install -y dash")
	marker := t.TempDir() + "/go"
	// The background process writes "late" once the marker exists, that is
	// after the first process has exited and the test has seen "first".
	cmd := exec.Command(sh, "-c", `(while [ ! -e "$1" ]; do sleep 0.01; done; echo late) & echo first`, "sh", marker)
	g := StartGroup(t, "sh", cmd)
	if l, err := g.Wait(0, waitTimeout, func(l string) bool { return l == "first" }); err != nil || l != "first" {
		t.Fatalf("Wait for first: %q, %v", l, err)
	}
	select {
	case <-g.Exited():
	case <-time.After(waitTimeout):
		t.Fatal("the first process did not exit")
	}
	if err := g.ExitErr(); err != nil {
		t.Fatalf("ExitErr: %v", err)
	}
	from := g.Mark()
	if from != 1 {
		t.Fatalf("Mark after one line: %d", from)
	}
	touch(t, marker)
	if l, err := g.Wait(from, waitTimeout, func(l string) bool { return l == "late" }); err != nil || l != "late" {
		t.Fatalf("Wait for late: %q, %v\noutput:\n%s", l, err, g.Output())
	}
	if _, err := g.Wait(0, waitTimeout, nil); err != nil {
		t.Fatalf("Wait for the end: %v", err)
	}
	if _, err := g.Wait(0, waitTimeout, func(l string) bool { return l == "never" }); !errors.Is(err, ErrExited) {
		t.Fatalf("Wait for a line never written, after the end: %v, want ErrExited", err)
	}
	if got := g.Output(); got != "first\nlate" {
		t.Fatalf("Output: %q", got)
	}
}

// TestGroupWaitTimesOut: a line that does not come within the timeout is
// an error naming the timeout, not a hang.
func TestGroupWaitTimesOut(t *testing.T) {
	sh := Command(t, "sh", "apt-get install -y dash")
	marker := t.TempDir() + "/go"
	g := StartGroup(t, "sh", exec.Command(sh, "-c", `while [ ! -e "$1" ]; do sleep 0.01; done`, "sh", marker))
	_, err := g.Wait(0, time.Millisecond, func(string) bool { return true })
	if err == nil || errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "after 1ms") {
		t.Fatalf("Wait on a silent process: %v, want a timeout", err)
	}
	touch(t, marker)
	if _, err := g.Wait(0, waitTimeout, nil); err != nil {
		t.Fatalf("Wait for the end: %v", err)
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestGroupReadsPastALongLine: a line longer than a bufio.Scanner's limit
// (64 KiB) neither ends the output nor hides the lines after it.
func TestGroupReadsPastALongLine(t *testing.T) {
	sh := Command(t, "sh", "apt-get install -y dash")
	long := strings.Repeat("x", 100<<10)
	g := StartGroup(t, "sh", exec.Command(sh, "-c", `printf '%s\n' "$1"; echo after`, "sh", long))
	if l, err := g.Wait(0, waitTimeout, func(l string) bool { return l == "after" }); err != nil || l != "after" {
		t.Fatalf("Wait for the line after the long one: %q, %v", l, err)
	}
	if _, err := g.Wait(0, waitTimeout, nil); err != nil {
		t.Fatalf("Wait for the end: %v", err)
	}
	if got := g.Output(); got != long+"\nafter" {
		t.Fatalf("Output has %d bytes, want the long line and \"after\"", len(got))
	}
}

// TestGroupMatchMayReadTheGroup: match runs without the Group's lock, so
// it may call Mark or Output.
func TestGroupMatchMayReadTheGroup(t *testing.T) {
	sh := Command(t, "sh", "apt-get install -y dash")
	g := StartGroup(t, "sh", exec.Command(sh, "-c", `echo one; echo two`))
	l, err := g.Wait(0, waitTimeout, func(l string) bool { return l == "two" && g.Mark() >= 2 && strings.Contains(g.Output(), "one") })
	if err != nil || l != "two" {
		t.Fatalf("Wait: %q, %v", l, err)
	}
}
