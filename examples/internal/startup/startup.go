// Package startup runs opa's Startup so that SIGINT or SIGTERM stops it,
// for the example host and worker: a plugin's init or a component that
// blocks must not leave a process that only SIGKILL ends.
package startup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/opa-stack/opa-go"
)

// ErrStopped is wrapped by Run's error when a signal came during Startup.
var ErrStopped = errors.New("stopped by a signal during Startup")

// Grace bounds how long Run waits, after a signal, for Startup to return
// (and roll back what it started) before it gives up on it.
const Grace = 5 * time.Second

// Run makes the default Manager from opts and starts it with start, under
// ctx: a context that a signal ends (signal.NotifyContext), whose stop
// func is stop. Startup gets ctx, so a component that is connecting
// notices the signal, and Startup rolls back what it started and returns.
// When ctx ends first, Run calls stop (a second signal then has its
// default action and ends the process at once), waits up to Grace for
// Startup to return, shuts down what it started if it succeeded anyway,
// and returns an error wrapping ErrStopped. A plugin's init, or an open of
// a plugin file, cannot be interrupted: if Startup is still in one after
// Grace, Run says so and returns; the caller exits.
func Run(ctx context.Context, stop func(), opts []opa.Option, start func(context.Context, *opa.Manager) error) error {
	m, err := opa.New(opts...)
	if err != nil {
		return err
	}
	// Setups and a component's Connect find the Manager being started.
	opa.SetDefault(m)
	done := make(chan error, 1)
	// Manager.Startup takes ctx as opa.StartupContext does; Run makes the
	// Manager itself so that the worker (StartupSimple, no router) and the
	// host share it, and so that it can shut down what a Startup that ended
	// after the signal started.
	go func() { done <- start(ctx, m) }()
	select {
	case err := <-done:
		if err == nil && ctx.Err() != nil { // the signal came as Startup ended
			return errors.Join(ErrStopped, shutdown(m))
		}
		return err
	case <-ctx.Done():
	}
	stop()
	slog.Warn("signal during Startup: rolling back what it started (a second signal exits at once)")
	select {
	case err := <-done:
		if err == nil {
			return errors.Join(ErrStopped, shutdown(m))
		}
		return fmt.Errorf("%w: %w", ErrStopped, err)
	case <-time.After(Grace):
		return fmt.Errorf("%w: Startup did not return within %s (a plugin's init, or the open of a plugin file, blocks; neither can be interrupted), so what it started is left to the process's exit", ErrStopped, Grace)
	}
}

func shutdown(m *opa.Manager) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.Shutdown(ctx)
}
