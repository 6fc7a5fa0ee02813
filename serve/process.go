package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"

	"github.com/opa-stack/opa-go/internal/pidfile"
	"github.com/opa-stack/opa-go/internal/preflight"
)

// reasonEnv names the environment variable through which a process tells
// the new process it starts where to write why it failed (Fail). It is not
// an OPA_ variable: opa's settings never see it.
const reasonEnv = "OPASERVE_REASON_FILE"

// maxReason is the most of a new process's reason for failing that a
// reload reads (a Startup error naming many plugins is a few kilobytes).
const maxReason = 1 << 20

// ErrReloading is returned by Reload while another reload runs.
var ErrReloading = errors.New("serve: a reload is already running")

// ErrNotReady is returned by Reload before Ready was called: a process
// that does not serve yet has nothing to hand over.
var ErrNotReady = errors.New("serve: this process is not ready yet (Ready was not called)")

// ErrHandedOver is wrapped by the error of Reload in a process that has
// already handed over to a new one: that one serves and reloads, this one
// only drains. The error names the new process's PID when it is known.
var ErrHandedOver = errors.New("serve: already handed over")

// ErrStopping is returned by Reload once Stop was called.
var ErrStopping = errors.New("serve: this process is shutting down")

// Config says how a Process reloads. Its zero value works: no PID file, a
// minute for a new process to become ready, slog.Default, and SIGHUP
// triggers a reload.
type Config struct {
	// PIDFile, when set, holds the PID of the process that serves. Each
	// process writes it (atomically) when it calls Ready, so after a reload
	// it names the new one. A systemd unit points PIDFile= at it. Each
	// reload's result is written beside it, to PIDFile+".reload", for
	// Trigger.
	PIDFile string
	// ReadyTimeout bounds how long a new process may take to call Ready;
	// after it, the new process is killed and the reload fails with an
	// error that says so. Default one minute.
	ReadyTimeout time.Duration
	// Logger logs reloads. Default slog.Default().
	Logger *slog.Logger
	// NoSIGHUP turns off the SIGHUP handler, for hosts that trigger
	// reloads otherwise (Reload). By default SIGHUP reloads, and a SIGHUP
	// before Ready reloads once Ready is called (never fatal, never lost).
	// SIGHUP stays caught until the process exits: one that comes while
	// the process drains or shuts down is logged and ignored, never fatal.
	NoSIGHUP bool
	// OnReload, when set, is called after each reload this process tried,
	// with its outcome: "ok" (a new process serves; this one drains),
	// "failed" (this one serves on) or "cancelled" (Stop was called), and
	// the reload's error (nil for ok). A host counts reloads with it (opa's
	// Manager.CountReload, which the report shows).
	OnReload func(outcome string, err error)
}

// Reload outcomes, as Config.OnReload gets them.
const (
	ReloadOK        = "ok"
	ReloadFailed    = "failed"
	ReloadCancelled = "cancelled"
)

// Process is this run of the program, in a chain of processes that replace
// one another. Make one with New, first thing in main: it picks up what the
// process that started it handed over.
type Process struct {
	cfg        Config
	log        *slog.Logger
	upg        *tableflip.Upgrader
	reasonFile string // where Fail writes why this process failed (set by the parent)
	failed     atomic.Bool
	envMu      sync.Mutex // guards the reason variable while a child starts
	sigs       chan os.Signal
	stopOnce   sync.Once
	exit       chan struct{} // Exit: closed once handed over (after the result is written) or stopped
	exitOnce   sync.Once

	mu        sync.Mutex
	stage     stage
	pending   bool     // a SIGHUP came before Ready
	successor int      // the PID of the process this one handed over to, once known
	stoppers  []func() // each Serve's: stop accepting, before a handover is reported
}

// New returns the Process, once per program (tableflip allows one). It
// fails where graceful restarts are not supported (Windows).
func New(cfg Config) (*Process, error) {
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = time.Minute
	}
	p := &Process{cfg: cfg, log: cfg.Logger, exit: make(chan struct{})}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.reasonFile = os.Getenv(reasonEnv)
	_ = os.Unsetenv(reasonEnv) // our own children get their own
	upg, err := tableflip.New(tableflip.Options{UpgradeTimeout: cfg.ReadyTimeout, PIDFile: cfg.PIDFile})
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	p.upg = upg
	if !cfg.NoSIGHUP {
		p.sigs = make(chan os.Signal, 1)
		signal.Notify(p.sigs, syscall.SIGHUP)
		go p.handleSIGHUP()
	}
	return p, nil
}

// HasParent reports whether a reload started this process: it then
// inherits its listeners, and its parent serves until it calls Ready.
func (p *Process) HasParent() bool { return p.upg.HasParent() }

// Listen returns the listener the parent process handed over for network
// and addr, or a new one. Give the same network and addr in every process
// of the chain (the flags and environment are the same). Call it before
// Ready: listeners not asked for by then are closed.
func (p *Process) Listen(network, addr string) (net.Listener, error) {
	ln, err := p.upg.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("serve: listen %s %s: %w", network, addr, err)
	}
	return ln, nil
}

// Ready says that this process has started (opa.Startup succeeded) and
// serves: it writes the PID file, and the parent, if any, stops accepting,
// drains and exits. A reload can start once Ready was called; a SIGHUP that
// came before starts its reload now.
func (p *Process) Ready() error {
	if p.reasonFile != "" {
		// The parent learns which process it handed over to (its log,
		// and its answer to a later SIGHUP).
		_ = os.WriteFile(p.reasonFile+".pid", []byte(strconv.Itoa(os.Getpid())), 0o600)
	}
	if err := p.upg.Ready(); err != nil {
		return fmt.Errorf("serve: ready: %w", err)
	}
	p.mu.Lock()
	if p.stage == stageStarting {
		p.stage = stageServing
	}
	pending := p.pending && p.stage == stageServing
	p.pending = false
	p.reasonFile = ""
	p.mu.Unlock()
	if pending {
		go p.reloadOnSignal() // a SIGHUP came while this process started
	}
	return nil
}

// Fail tells the process that started this one why it failed before
// Ready, so that its Reload error (and Trigger) says why. Call it with the
// error that stops the program, before exiting. It does nothing in a
// process that is ready or that no reload started.
func (p *Process) Fail(err error) {
	p.mu.Lock()
	file := p.reasonFile
	p.mu.Unlock()
	if err == nil || file == "" || !p.failed.CompareAndSwap(false, true) {
		return
	}
	p.log.Error("serve: this new process failed to start; the old one keeps serving", "error", err)
	_ = os.WriteFile(file, []byte(err.Error()), 0o600)
}

// Exit is closed when this process should stop serving: a new process took
// over (or Stop was called). An HTTP host then drains (Serve does it), a
// worker stops fetching jobs and finishes the running ones; both then call
// opa.Shutdown and exit. After a handover it is closed once the reload's
// result is written (PIDFile+".reload"), so that a process which drains
// at once cannot exit before Trigger learns the outcome.
func (p *Process) Exit() <-chan struct{} { return p.exit }

func (p *Process) closeExit() { p.exitOnce.Do(func() { close(p.exit) }) }

// Stop ends reloads for good, for a process that is shutting down (SIGTERM):
// a running reload is cancelled and its new process killed, Exit is
// closed, and the PID file is removed if it names this process. SIGHUP
// stays caught (see Config.NoSIGHUP): a reload asked for from now on is
// logged and ignored.
func (p *Process) Stop() {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		if p.stage != stageHandedOver {
			p.stage = stageStopping
		}
		p.mu.Unlock()
		p.upg.Stop()
		p.closeExit()
		if p.cfg.PIDFile != "" {
			if pid, err := ReadPID(p.cfg.PIDFile); err == nil && pid == os.Getpid() {
				_ = os.Remove(p.cfg.PIDFile)
			}
		}
	})
}

// Reload starts a new process of the same binary path, with the same
// arguments and environment, and waits until it is ready (nil: this process
// now drains, Exit is closed) or has failed (an error that says why; this
// process serves on). A process started by a reload first waits, bounded by
// ctx, for its parent to exit. Only one reload runs at a time: another
// call returns ErrReloading at once. A process that has handed over
// returns an error wrapping ErrHandedOver, one that stops ErrStopping; both
// leave PIDFile+".reload" as it was.
func (p *Process) Reload(ctx context.Context) error {
	if err := p.begin(); err != nil {
		return err
	}
	start := time.Now()
	succ, err := p.reload(ctx)
	p.mu.Lock()
	stopping := p.stage == stageStopping
	switch {
	case err == nil:
		p.stage, p.successor = stageHandedOver, succ
	case stopping:
		err = fmt.Errorf("serve: reload cancelled: this process is shutting down (Stop): %w", err)
	default:
		p.stage = stageServing
	}
	stoppers := slices.Clone(p.stoppers)
	p.mu.Unlock()
	if err == nil {
		// The new process accepts from the same sockets: stop accepting
		// here before saying so, so that a client that learns the outcome
		// (Trigger, opa add) and then connects reaches the new process.
		for _, stop := range stoppers {
			stop()
		}
	}
	p.writeResult(start, err)
	if p.cfg.OnReload != nil {
		outcome := ReloadOK
		switch {
		case stopping:
			outcome = ReloadCancelled
		case err != nil:
			outcome = ReloadFailed
		}
		p.cfg.OnReload(outcome, err)
	}
	if err == nil {
		p.closeExit()
	}
	switch {
	case err == nil:
		p.log.Info("serve: reloaded; this process drains and exits", "pid", os.Getpid(), "new_pid", succ, "took", time.Since(start).Round(time.Millisecond))
	case stopping:
		p.log.Warn("serve: reload cancelled: this process is shutting down", "pid", os.Getpid(), "error", err)
	default:
		p.log.Error("serve: reload failed; this process keeps serving", "pid", os.Getpid(), "error", err)
	}
	return err
}

// onHandover registers stop, which a successful reload calls before it
// reports its outcome.
func (p *Process) onHandover(stop func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stoppers = append(p.stoppers, stop)
}

// begin moves a serving process to stageReloading, or says why it cannot
// reload.
func (p *Process) begin() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.stage {
	case stageServing:
		p.stage = stageReloading
		return nil
	case stageStarting:
		return ErrNotReady
	case stageReloading:
		return ErrReloading
	case stageHandedOver:
		return p.handedOverError()
	case stageStopping:
		return ErrStopping
	}
	return fmt.Errorf("serve: cannot reload in stage %s", p.stage)
}

// handedOverError names the process this one handed over to. Call it with
// p.mu held.
func (p *Process) handedOverError() error {
	if p.successor > 0 {
		return fmt.Errorf("%w to PID %d, which serves; this process (PID %d) drains and exits", ErrHandedOver, p.successor, os.Getpid())
	}
	return fmt.Errorf("%w to a new process, which serves; this process (PID %d) drains and exits", ErrHandedOver, os.Getpid())
}

// reload runs one reload and returns the new process's PID (0 if it did
// not say) once that process is ready.
func (p *Process) reload(ctx context.Context) (int, error) {
	if err := p.upg.WaitForParent(ctx); err != nil && ctx.Err() != nil {
		return 0, fmt.Errorf("serve: reload: the process this one replaced has not exited yet: %w", err)
	}
	// The new process writes why it failed (Fail) and its PID (Ready) into
	// a directory only this user can enter: names in a shared /tmp could be
	// taken first by another user, as a named pipe or a symbolic link.
	dir, err := os.MkdirTemp("", "opa-serve-reload-")
	if err != nil {
		return 0, fmt.Errorf("serve: reload: %w", err)
	}
	defer os.RemoveAll(dir)
	reasonFile := filepath.Join(dir, "reason")
	p.envMu.Lock()
	_ = os.Setenv(reasonEnv, reasonFile)
	err = p.upgrade(ctx)
	_ = os.Unsetenv(reasonEnv)
	p.envMu.Unlock()
	if err == nil {
		pid, _ := pidfile.Read(reasonFile + ".pid")
		return pid, nil
	}
	// tableflip's startChild leaves the parent's copies of the two pipes
	// it gives the new process (its end of "ready" and of the names) to
	// the garbage collector: 2 fds a failed reload until the next GC,
	// which an idle process may not run for minutes. Collect now, so that
	// their finalizers close them.
	runtime.GC()
	if reason, _ := preflight.ReadFile(reasonFile, "a reload's reason", maxReason); len(reason) > 0 {
		return 0, &ReloadError{Reason: string(reason), Err: err}
	}
	if strings.Contains(err.Error(), "timed out") {
		return 0, &ReloadError{Reason: fmt.Sprintf("the new process was not ready within %s (ReadyTimeout) and was killed", p.cfg.ReadyTimeout), Err: err}
	}
	if strings.Contains(err.Error(), "terminating") {
		return 0, &ReloadError{Reason: "the reload was cancelled (Stop) and the new process killed", Err: err}
	}
	return 0, &ReloadError{Reason: "the new process stopped before it was ready (its log says why)", Err: err}
}

// upgrade asks tableflip for the new process. Right after this process's
// own parent exited, tableflip's loop may not have seen that exit yet (its
// select picks among ready events at random) and answers "parent hasn't
// exited" although WaitForParent returned: that answer is retried, for as
// long as ctx allows.
func (p *Process) upgrade(ctx context.Context) error {
	for {
		err := p.upg.Upgrade()
		if err == nil || !strings.Contains(err.Error(), "parent hasn't exited") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond): // tableflip offers no event for "its loop saw the exit"
		}
	}
}

// ReloadError is a failed reload: why the new process failed, as it told
// (Fail), and what happened to it (exited, timed out).
type ReloadError struct {
	Reason string
	Err    error
}

func (e *ReloadError) Error() string {
	return "serve: reload failed: " + e.Reason + " (" + e.Err.Error() + ")"
}

func (e *ReloadError) Unwrap() error { return e.Err }

// handleSIGHUP reloads on each SIGHUP, each in its own goroutine, so that
// a SIGHUP during a reload is refused at once (ErrReloading) and logged. A
// SIGHUP before Ready is kept, and its reload starts once Ready is called:
// a reload asked for while the process starts is not lost. Once the
// process has handed over or stops, a SIGHUP is logged and ignored: it
// stays caught until the process exits, since its default action would
// kill a process that still drains requests.
func (p *Process) handleSIGHUP() {
	for range p.sigs {
		p.mu.Lock()
		st := p.stage
		var err error
		switch st {
		case stageStarting:
			p.pending = true
		case stageReloading:
			err = ErrReloading
		case stageHandedOver:
			err = p.handedOverError()
		case stageStopping:
			err = ErrStopping
		}
		p.mu.Unlock()
		switch {
		case st == stageStarting:
			p.log.Info("serve: SIGHUP before this process is ready: reloading once it is", "pid", os.Getpid())
		case err != nil:
			p.log.Warn("serve: SIGHUP ignored", "pid", os.Getpid(), "error", err)
		default:
			go p.reloadOnSignal()
		}
	}
}

// reloadOnSignal is the reload a SIGHUP asks for.
func (p *Process) reloadOnSignal() {
	p.log.Info("serve: SIGHUP: reloading", "pid", os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 2*p.cfg.ReadyTimeout)
	defer cancel()
	if err := p.Reload(ctx); errors.Is(err, ErrReloading) || errors.Is(err, ErrNotReady) || errors.Is(err, ErrHandedOver) || errors.Is(err, ErrStopping) {
		p.log.Warn("serve: SIGHUP ignored", "pid", os.Getpid(), "error", err)
	}
}
