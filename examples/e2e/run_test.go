package e2e

import (
	"bufio"
	"errors"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runScript starts run.sh (what make run runs) on the tests' build, in a
// process group of its own as a terminal would, and returns it once the host
// listens and the worker works, or once it has exited. Stop it with a
// signal to the group (Ctrl-C) or to the script (as make passes SIGTERM).
func runScript(t *testing.T, addr string) (cmd *exec.Cmd, out *lockedBuffer, exited chan error) {
	t.Helper()
	examplesBuilt(t)
	cmd = exec.Command("sh", "run.sh")
	cmd.Dir = ".."
	cmd.Env = hostEnv(t, "BUILD_DIR="+buildDir, "DATA_DIR="+t.TempDir(), "ADDR="+addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out = &lockedBuffer{}
	cmd.Stderr = out
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	exited = make(chan error, 1)
	go func() {
		host, worker, closed := false, false, false
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			host = host || strings.HasPrefix(sc.Text(), hostReady)
			worker = worker || strings.HasPrefix(sc.Text(), workerReady)
			if host && worker && !closed {
				close(ready)
				closed = true
			}
		}
		_, _ = io.Copy(io.Discard, pipe)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	select {
	case <-ready:
	case err := <-exited:
		exited <- err
	case <-time.After(countDeadline):
		t.Fatalf("run.sh: neither ready nor exited after %s:\n%s", countDeadline, out)
	}
	return cmd, out, exited
}

// groupGone fails the test if a process of run.sh's group still runs: a
// worker left behind.
func groupGone(t *testing.T, cmd *exec.Cmd, out *lockedBuffer) {
	t.Helper()
	if err := syscall.Kill(-cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("a process of run.sh's group still runs after the script ended (kill -0: %v):\n%s", err, out)
	}
}

// waitExit waits for run.sh to end, bounded by countDeadline.
func waitExit(t *testing.T, exited chan error, out *lockedBuffer) error {
	t.Helper()
	select {
	case err := <-exited:
		return err
	case <-time.After(countDeadline):
		t.Fatalf("run.sh did not end after %s:\n%s", countDeadline, out)
		return nil
	}
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
			cmd, out, exited := runScript(t, "127.0.0.1:0")
			if err := tc.stop(cmd.Process.Pid); err != nil {
				t.Fatal(err)
			}
			_ = waitExit(t, exited, out)
			groupGone(t, cmd, out)
			for _, want := range []string{"shutting down: finishing requests", "worker stopped working: closing components"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("run.sh's output does not show %q: not a graceful stop:\n%s", want, out)
				}
			}
		})
	}
}

func TestRunScriptStopsWorkerWhenHostFails(t *testing.T) {
	// The address is taken: the host cannot listen and exits.
	taken := startHost(t, t.TempDir(), hostEnv(t))
	addr := strings.TrimPrefix(taken.base, "http://")
	cmd, out, exited := runScript(t, addr)
	if err := waitExit(t, exited, out); err == nil {
		t.Errorf("run.sh exited 0 though the host failed:\n%s", out)
	}
	groupGone(t, cmd, out)
	if !strings.Contains(out.String(), "address already in use") {
		t.Errorf("run.sh's output does not show why the host stopped:\n%s", out)
	}
}
