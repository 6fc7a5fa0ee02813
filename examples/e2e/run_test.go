package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// runScript starts run.sh (what make run runs) on the tests' build, in a
// process group of its own as a terminal would, and returns it once the host
// listens and the worker works, or once its output has ended. Stop it with
// a signal to the group (Ctrl-C) or to the script (as make passes SIGTERM).
func runScript(t *testing.T, addr string) *chainProc {
	t.Helper()
	examplesBuilt(t)
	cmd := exec.Command("sh", "run.sh")
	cmd.Dir = ".."
	cmd.Env = hostEnv(t, "BUILD_DIR="+buildDir, "DATA_DIR="+t.TempDir(), "ADDR="+addr)
	c := &chainProc{t: t, Group: testenv.StartGroup(t, "run.sh", cmd)}
	for _, ready := range []string{hostReady, workerReady} {
		_, err := c.Wait(0, countDeadline, func(l string) bool { return strings.HasPrefix(l, ready) })
		if errors.Is(err, testenv.ErrExited) {
			return c // the test looks at why
		}
		if err != nil {
			t.Fatalf("run.sh: waiting for %q: %v", ready, err)
		}
	}
	return c
}

// groupGone fails the test if a process of run.sh's group still runs: a
// worker left behind.
func groupGone(t *testing.T, c *chainProc) {
	t.Helper()
	if err := syscall.Kill(-c.Cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("a process of run.sh's group still runs after the script ended (kill -0: %v)", err)
	}
}

// waitExit waits, bounded by countDeadline, until run.sh and every process
// that writes to its output have ended, and returns the script's exit
// error.
func waitExit(t *testing.T, c *chainProc) error {
	t.Helper()
	if _, err := c.Wait(0, countDeadline, nil); err != nil {
		t.Fatalf("run.sh, or a process it started, did not end: %v", err)
	}
	return c.ExitErr()
}

func TestRunScriptStopsBoth(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(pid int) error
	}{
		// The terminal signals the whole group.
		{"Ctrl-C", func(pid int) error { return syscall.Kill(-pid, syscall.SIGINT) }},
		// make passes SIGTERM to the script only.
		{"make's SIGTERM", func(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := runScript(t, "127.0.0.1:0")
			if err := tc.stop(c.Cmd.Process.Pid); err != nil {
				t.Fatal(err)
			}
			_ = waitExit(t, c)
			groupGone(t, c)
			for _, want := range []string{"shutting down: finishing requests", "worker stopped working: closing components"} {
				if !strings.Contains(c.Output(), want) {
					t.Errorf("run.sh's output does not show %q: not a graceful stop", want)
				}
			}
		})
	}
}

func TestRunScriptStopsWorkerWhenHostFails(t *testing.T) {
	// The address is taken: the host cannot listen and exits.
	taken := startHost(t, t.TempDir(), hostEnv(t))
	addr := strings.TrimPrefix(taken.base, "http://")
	c := runScript(t, addr)
	if err := waitExit(t, c); err == nil {
		t.Errorf("run.sh exited 0 though the host failed")
	}
	groupGone(t, c)
	if !strings.Contains(c.Output(), "address already in use") {
		t.Errorf("run.sh's output does not show why the host stopped")
	}
}
