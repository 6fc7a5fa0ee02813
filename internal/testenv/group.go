//go:build unix

package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrExited is what Group.Wait returns when every process writing to the
// group's output has exited before a line matched.
var ErrExited = errors.New("every process of the group has exited")

// Group is a process started by a test in a process group of its own, and
// every process that replaced it on a graceful reload. They share one pipe
// for stdout and stderr, read line by line: the pipe is not one of exec's,
// since those close when the first process exits, while the process that
// replaced it still writes.
type Group struct {
	// Cmd is the first process, started. Group waits for it: never call
	// Cmd.Wait, and read Cmd.ProcessState only once Exited is closed.
	Cmd *exec.Cmd

	exited  chan struct{} // closed once Cmd has exited; then exitErr is set
	exitErr error

	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced at each new line, and at EOF
	eof   bool
}

// StartGroup starts cmd (with Setpgid set) writing stdout and stderr to
// one pipe. At the end of the test the whole process group is killed,
// and if the test failed, the output is logged under name.
func StartGroup(t testing.TB, name string, cmd *exec.Cmd) *Group {
	t.Helper()
	g := &Group{Cmd: cmd, more: make(chan struct{}), exited: make(chan struct{})}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	w.Close()
	go func() {
		g.exitErr = cmd.Wait()
		close(g.exited)
	}()
	go g.read(r)
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if t.Failed() {
			t.Logf("output of %s and its reloads:\n%s", name, g.Output())
		}
	})
	return g
}

func (g *Group) read(r io.ReadCloser) {
	defer r.Close()
	// A bufio.Reader, not a Scanner: a Scanner stops at a line longer than
	// its buffer, and every later line would be lost.
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			g.mu.Lock()
			g.lines = append(g.lines, strings.TrimSuffix(line, "\n"))
			close(g.more)
			g.more = make(chan struct{})
			g.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	g.mu.Lock()
	g.eof = true
	close(g.more)
	g.mu.Unlock()
}

// Exited is closed once the first process (Cmd) has exited; the processes
// that replaced it may still run.
func (g *Group) Exited() <-chan struct{} { return g.exited }

// ExitErr waits until the first process (Cmd) has exited and returns what
// Cmd.Wait returned.
func (g *Group) ExitErr() error {
	<-g.exited
	return g.exitErr
}

// Output is every line so far, joined by newlines.
func (g *Group) Output() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(g.lines, "\n")
}

// Mark is the index of the next line: Wait(g.Mark(), ...) waits for a line
// read from now on (a line written just before may still be in the pipe,
// and be read after Mark).
func (g *Group) Mark() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.lines)
}

// MustWait is Wait that fails the test, naming what it waited for, when no
// line matches.
func (g *Group) MustWait(t testing.TB, from int, timeout time.Duration, what string, match func(string) bool) string {
	t.Helper()
	line, err := g.Wait(from, timeout, match)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return line
}

// Wait waits up to timeout for a line at index from or later that match
// accepts, and returns it. It returns ErrExited if the output ends first,
// and an error naming the timeout if it passes. A nil match waits for the
// end of the output: every process of the group has exited.
func (g *Group) Wait(from int, timeout time.Duration, match func(string) bool) (string, error) {
	expired := time.After(timeout)
	for {
		g.mu.Lock()
		lines, more, eof := g.lines[min(from, len(g.lines)):], g.more, g.eof
		g.mu.Unlock()
		// match runs without the lock: it may call Output or Mark. lines
		// stays valid, since read only appends.
		for _, l := range lines {
			if match != nil && match(l) {
				return l, nil
			}
		}
		from += len(lines)
		if eof {
			if match == nil {
				return "", nil
			}
			return "", ErrExited
		}
		select {
		case <-more:
		case <-expired:
			return "", fmt.Errorf("no such line after %s", timeout)
		}
	}
}
