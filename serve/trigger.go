package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// result is what a process writes to PIDFile+".reload" after each reload
// it tried.
type result struct {
	PID     int       `json:"pid"`   // the process that reloaded
	Started time.Time `json:"start"` // when the reload started
	OK      bool      `json:"ok"`
	Error   string    `json:"error,omitempty"`
}

// writeResult records a reload's outcome beside the PID file, atomically.
func (p *Process) writeResult(start time.Time, err error) {
	if p.cfg.PIDFile == "" {
		return
	}
	r := result{PID: os.Getpid(), Started: start, OK: err == nil}
	if err != nil {
		r.Error = err.Error()
	}
	b, _ := json.Marshal(r)
	tmp := p.cfg.PIDFile + ".reload.tmp" + strconv.Itoa(os.Getpid())
	if os.WriteFile(tmp, append(b, '\n'), 0o644) == nil {
		_ = os.Rename(tmp, p.cfg.PIDFile+".reload")
	}
}

// ReadPID returns the PID that a PID file holds.
func ReadPID(pidFile string) (int, error) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("serve: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("serve: %s holds %q, not a PID", pidFile, b)
	}
	return pid, nil
}

// Trigger reloads the process that pidFile names (a Config.PIDFile) and
// waits, bounded by ctx, for the outcome: it returns the new process's PID,
// or an error that says why the reload failed (the old process serves on).
// It is `kill -HUP` that reports: use it where a script or a deploy must
// know that the new plugins serve.
func Trigger(ctx context.Context, pidFile string) (int, error) {
	pid, err := ReadPID(pidFile)
	if err != nil {
		return 0, err
	}
	before, _ := os.ReadFile(pidFile + ".reload")
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return 0, fmt.Errorf("serve: signal process %d from %s: %w", pid, pidFile, err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("serve: no outcome of the reload of process %d yet: %w", pid, ctx.Err())
		case <-tick.C:
		}
		b, err := os.ReadFile(pidFile + ".reload")
		var r result
		if err != nil || string(b) == string(before) || json.Unmarshal(b, &r) != nil || r.PID != pid {
			if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
				return 0, fmt.Errorf("serve: process %d exited without reporting a reload", pid)
			}
			continue
		}
		if !r.OK {
			return 0, fmt.Errorf("serve: process %d serves on: %s", pid, strings.TrimPrefix(r.Error, "serve: "))
		}
		newPID, err := ReadPID(pidFile)
		if err != nil {
			return 0, err
		}
		return newPID, nil
	}
}
