// Package pidfile holds the files through which a host run by package serve
// and the commands that reload it talk: the PID file, which names the
// process that serves, and beside it PIDFILE.reload, where that process
// records the outcome of each reload it tried. serve writes both;
// serve.Trigger and opa add read them.
//
// Every read opens without blocking and reads a bounded number of bytes,
// so a named pipe or a wrong file given as a PID file is an error that
// says so, not a hang.
package pidfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opa-stack/opa-go/internal/preflight"
)

const (
	// maxPIDSize is the most bytes a PID file may hold: a PID and a newline.
	maxPIDSize = 64
	// maxOutcomeSize is the most bytes PIDFILE.reload may hold: the reason
	// a reload failed can quote a whole Startup error.
	maxOutcomeSize = 1 << 20
)

// Read returns the PID that pidFile holds.
func Read(pidFile string) (int, error) {
	b, err := preflight.ReadNamed(pidFile, "a PID file", maxPIDSize)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s holds %q, not a PID", pidFile, b)
	}
	return pid, nil
}

// Outcome is what a process writes to PIDFILE.reload after each reload it
// tried.
type Outcome struct {
	PID     int       `json:"pid"`   // the process that reloaded
	Started time.Time `json:"start"` // when the reload started
	OK      bool      `json:"ok"`
	Error   string    `json:"error,omitempty"` // why it failed; this process serves on
}

// OutcomeFile is where the outcomes of the reloads of the process pidFile
// names are written.
func OutcomeFile(pidFile string) string { return pidFile + ".reload" }

// WriteOutcome records o beside pidFile, atomically: a reader finds the
// outcome before it or o, never part of o.
func WriteOutcome(pidFile string, o Outcome) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	dst := OutcomeFile(pidFile)
	tmp := dst + ".tmp" + strconv.Itoa(os.Getpid())
	err = os.WriteFile(tmp, append(b, '\n'), 0o644)
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// ErrExited means the process asked to reload exited without writing an
// outcome.
var ErrExited = errors.New("exited without writing the outcome of its reload")

// Reload is one reload asked of the process a PID file names: Ask sends
// it SIGHUP; Done then tells whether that process has written the outcome.
type Reload struct {
	pidFile string
	// PID is the process asked to reload.
	PID    int
	before []byte // PIDFILE.reload before the signal: an older outcome
}

// Ask reads the PID that pidFile names and sends that process SIGHUP. An
// error reading the PID file is Read's; one of the signal wraps the
// syscall's error (syscall.ESRCH: no such process). An outcome file that
// is there but cannot be read is an error before any signal.
func Ask(pidFile string) (*Reload, error) {
	pid, before, err := check(pidFile)
	if err != nil {
		return nil, err
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return nil, fmt.Errorf("cannot signal process %d, which %s names: %w", pid, pidFile, err)
	}
	return &Reload{pidFile: pidFile, PID: pid, before: before}, nil
}

// Check reads pidFile and the outcome file beside it as Ask does, without
// sending a signal: a command checks them before it changes anything.
func Check(pidFile string) (int, error) {
	pid, _, err := check(pidFile)
	return pid, err
}

// check is Check that also returns the outcome file as it is (nil: none).
func check(pidFile string) (int, []byte, error) {
	pid, err := Read(pidFile)
	if err != nil {
		return 0, nil, err
	}
	before, err := readOutcome(pidFile)
	if err != nil {
		return 0, nil, err
	}
	return pid, before, nil
}

// readOutcome reads PIDFILE.reload: nil and no error when there is none.
func readOutcome(pidFile string) ([]byte, error) {
	b, err := preflight.ReadNamed(OutcomeFile(pidFile), "a reload outcome", maxOutcomeSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// Done reads PIDFILE.reload once. It returns the outcome and true once the
// process has written the outcome of this reload, and false while it has
// not. When the process is gone without an outcome, the PID file says
// what became of the reload: naming another process that runs, the reload
// worked (the old process could not write its outcome) and Done returns
// an outcome that says OK; otherwise ErrExited. An outcome file that
// cannot be read is an error.
func (r *Reload) Done() (Outcome, bool, error) {
	b, err := readOutcome(r.pidFile)
	if err != nil {
		return Outcome{}, false, err
	}
	var o Outcome
	if b != nil && string(b) != string(r.before) && json.Unmarshal(b, &o) == nil && o.PID == r.PID {
		return o, true, nil
	}
	if !errors.Is(syscall.Kill(r.PID, 0), syscall.ESRCH) {
		return Outcome{}, false, nil
	}
	if pid, err := Read(r.pidFile); err == nil && pid != r.PID && syscall.Kill(pid, 0) == nil {
		return Outcome{PID: r.PID, OK: true}, true, nil
	}
	return Outcome{}, false, ErrExited
}
