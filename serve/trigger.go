package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/opa-stack/opa-go/internal/pidfile"
)

// writeResult records a reload's outcome beside the PID file, atomically.
func (p *Process) writeResult(start time.Time, err error) {
	if p.cfg.PIDFile == "" {
		return
	}
	o := pidfile.Outcome{PID: os.Getpid(), Started: start, OK: err == nil}
	if err != nil {
		o.Error = err.Error()
	}
	if err := pidfile.WriteOutcome(p.cfg.PIDFile, o); err != nil {
		// Trigger and opa add then learn the outcome from the PID file
		// alone (see pidfile.Reload.Done).
		p.log.Error("serve: cannot write the reload's outcome", "file", pidfile.OutcomeFile(p.cfg.PIDFile), "error", err)
	}
}

// ReadPID returns the PID that a PID file holds. A file that is not a
// regular file (a named pipe) or that holds more than a PID is refused
// unread, never waited on.
func ReadPID(pidFile string) (int, error) {
	pid, err := pidfile.Read(pidFile)
	if err != nil {
		return 0, fmt.Errorf("serve: %w", err)
	}
	return pid, nil
}

// triggerPoll is how often Trigger reads the outcome of the reload: a
// reload takes a few hundred milliseconds, its outcome is a small file.
const triggerPoll = 2 * time.Millisecond

// Trigger reloads the process that pidFile names (a Config.PIDFile) and
// waits, bounded by ctx, for the outcome: it returns the new process's PID,
// or an error that says why the reload failed (the old process serves on).
// It is `kill -HUP` that reports: use it where a script or a deploy must
// know that the new plugins serve.
func Trigger(ctx context.Context, pidFile string) (int, error) {
	r, err := pidfile.Ask(pidFile)
	if err != nil {
		return 0, fmt.Errorf("serve: %w", err)
	}
	tick := time.NewTicker(triggerPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("serve: no outcome of the reload of process %d yet: %w", r.PID, ctx.Err())
		case <-tick.C:
		}
		o, done, err := r.Done()
		switch {
		case errors.Is(err, pidfile.ErrExited):
			return 0, fmt.Errorf("serve: process %d exited without reporting a reload", r.PID)
		case err != nil:
			return 0, fmt.Errorf("serve: the outcome of the reload of process %d: %w", r.PID, err)
		case !done:
			continue
		case !o.OK:
			return 0, fmt.Errorf("serve: process %d serves on: %s", r.PID, strings.TrimPrefix(o.Error, "serve: "))
		}
		return ReadPID(pidFile)
	}
}
