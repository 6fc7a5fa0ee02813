// Command worker is the example worker: it loads the same plugins with the
// same settings as the example host, and runs the background jobs the host
// queues (the plugins' tasks, such as notes.count_words) until SIGINT or
// SIGTERM, then stops gracefully within OPTS.stop_timeout (8s by default,
// under Docker's 10s grace): running jobs get three quarters of it to
// finish, then their contexts are cancelled and they go back to the queue.
// On SIGHUP it reloads as the host does (package serve): a new worker
// process loads the plugins again and, once its Startup succeeded, starts
// working; this one then stops fetching jobs (a job its last fetch brought
// is put back unrun), finishes the running ones within OPTS.stop_timeout
// and exits. No job is lost, and none runs twice from the start in a
// reload: a job is fetched by one worker only (delivery is at-least-once
// only when a worker dies mid-job, or a job outlives the stop).
//
//	worker -settings examples/settings -data examples/build/data -pidfile build/worker.pid
//
// With -orphans cancel (or delete) it works nothing: it cancels (or
// deletes) the jobs that wait for a task no running worker has (a plugin
// removed from the fleet; the report lists them as orphans), except those
// of its own plugins' tasks, and exits.
//
// Flags and environment are the host's (OPA_SETTINGS_DIR, DATA_DIR,
// OPA_PLUGIN_PATHS, ENV, ...): a worker must see the host's database and
// queue. It serves no HTTP: it starts without a router, so the plugins'
// routes are not mounted and their Setups do not run (the host's do).
// Start as many as you like, on this machine or, with the queue and the
// database on Postgres, on others.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/examples/internal/config"
	"github.com/opa-stack/opa-go/examples/internal/startup"
	"github.com/opa-stack/opa-go/river"
	"github.com/opa-stack/opa-go/serve"
)

func main() {
	settings := flag.String("settings", os.Getenv("OPA_SETTINGS_DIR"), "settings directory (env OPA_SETTINGS_DIR; default "+opa.DefaultSettingsDir+")")
	data := flag.String("data", cmp.Or(os.Getenv("DATA_DIR"), "data"), "data directory: relative component files (OPTS.path, a river OPTS.url) are inside it (env DATA_DIR)")
	pidFile := flag.String("pidfile", os.Getenv("WORKER_PID_FILE"), "write the PID of the working process to this file, for kill -HUP and systemctl reload (env WORKER_PID_FILE)")
	orphans := flag.String("orphans", "", "cancel or delete: act on the jobs no running worker has a task for, then exit, working nothing")
	flag.Parse()
	if *orphans != "" && *orphans != "cancel" && *orphans != "delete" {
		fmt.Fprintf(os.Stderr, "worker: -orphans %q: want cancel or delete\n", *orphans)
		os.Exit(2)
	}
	// Its log says "worker:", to tell it from the host's beside it (make run).
	log.SetFlags(log.LstdFlags | log.Lmsgprefix)
	log.SetPrefix("worker: ")
	proc, err := serve.New(serve.Config{PIDFile: *pidFile})
	if err != nil {
		slog.Error("worker stopped", "error", err)
		os.Exit(1)
	}
	if err := run(proc, *settings, *data, *orphans); err != nil {
		proc.Fail(err) // after a reload: the old worker logs why, and works on
		slog.Error("worker stopped", "pid", os.Getpid(), "error", err)
		os.Exit(1)
	}
}

func run(proc *serve.Process, settingsDir, dataDir, orphans string) error {
	cfg, err := config.Load(settingsDir, dataDir)
	if err != nil {
		return err
	}
	// The signal context comes first: a SIGTERM while starting stops
	// Startup (rolling back what it started).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The River driver is compiled in, as in the host; the task plugins are
	// the host's .so files.
	// A signal during Startup stops it (see startup.Run).
	opts := []opa.Option{opa.WithConfig(cfg), opa.WithPlugin("river", river.Plugin)}
	if err := startup.Run(ctx, stop, opts, func(ctx context.Context, m *opa.Manager) error { return m.StartupSimple(ctx) }); err != nil {
		return err
	}
	jobs, err := opa.Instance[*river.Jobs]("jobs")
	if err != nil {
		return errors.Join(err, opa.Shutdown(context.Background()))
	}
	if orphans != "" {
		return errors.Join(actOnOrphans(ctx, jobs, orphans), opa.Shutdown(context.Background()))
	}
	// Started: the old worker, after a reload, stops fetching now.
	if err := proc.Ready(); err != nil {
		return errors.Join(err, opa.Shutdown(context.Background()))
	}
	fmt.Printf("opa example worker running %v\n", jobs.Kinds())
	// Work runs jobs until SIGINT/SIGTERM or until a new worker works,
	// then lets the running ones finish.
	workCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
			proc.Stop() // no reload while stopping
		case <-proc.Exit():
			slog.Info("a new worker works: finishing the running jobs, then exiting")
		}
		cancel()
	}()
	err = jobs.Work(workCtx)
	slog.Info("worker stopped working: closing components")
	return errors.Join(err, opa.Shutdown(context.Background()))
}

// actOnOrphans cancels or deletes the jobs of kinds no running worker has
// a task for (river.Jobs.CancelOrphans, DeleteOrphans), and says how many.
func actOnOrphans(ctx context.Context, jobs *river.Jobs, action string) error {
	orphans, err := jobs.Orphans(ctx)
	if err != nil {
		return err
	}
	act, done := jobs.CancelOrphans, "cancelled"
	if action == "delete" {
		act, done = jobs.DeleteOrphans, "deleted"
	}
	n, err := act(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("worker: orphans %v (this worker's own kinds %v are left alone): %s %d jobs\n", orphans, jobs.Kinds(), done, n)
	return nil
}
