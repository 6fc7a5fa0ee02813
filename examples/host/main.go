// Command host is the example host: a chi router with request logging and
// panic recovery, the plugins that opa loads, a graceful shutdown on SIGINT or SIGTERM, and a graceful
// reload on SIGHUP (package serve): a new host process loads the plugins
// again and takes over the listening socket only once its Startup
// succeeded; this one then drains and exits. It enqueues the plugins'
// background jobs (the "enqueue" hook, jobs.go); the example worker
// (../worker) runs them.
//
// The operator's views are on a second, private listener (-admin,
// 127.0.0.1:8081 by default), never on the public one: the plugin report at
// /opa/report (file paths, user names, component errors), Prometheus
// metrics per plugin at /metrics (metrics.go) and, with
// -riverui, River's own UI over the job queue at /riverui (riverui.go),
// which has no auth of its own and shows every job's args as they are.
//
//	host -addr 127.0.0.1:8080 -admin 127.0.0.1:8081 -settings examples/settings -data examples/build/data -pidfile build/host.pid
//
// Every flag has an environment variable too (ADDR, ADMIN_ADDR,
// OPA_SETTINGS_DIR, DATA_DIR, PID_FILE, RIVER_UI=1); a flag wins. An empty
// -admin serves no operator view. Where the plugins are is a setting like any other:
// OPA_PLUGIN_PATHS, or PLUGIN_PATHS in a settings file.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/examples/internal/config"
	"github.com/opa-stack/opa-go/examples/internal/startup"
	"github.com/opa-stack/opa-go/river"
	"github.com/opa-stack/opa-go/serve"
)

func main() {
	addr := flag.String("addr", cmp.Or(os.Getenv("ADDR"), "127.0.0.1:8080"), "public address to listen on (env ADDR); port 0 picks a free one")
	admin := flag.String("admin", envOr("ADMIN_ADDR", "127.0.0.1:8081"), "private address of the operator's views, /opa/report and River UI (env ADMIN_ADDR); keep it off the public network; empty: not served")
	settings := flag.String("settings", os.Getenv("OPA_SETTINGS_DIR"), "settings directory (env OPA_SETTINGS_DIR; default "+opa.DefaultSettingsDir+")")
	data := flag.String("data", cmp.Or(os.Getenv("DATA_DIR"), "data"), "data directory: relative component files (OPTS.path, a river OPTS.url) are inside it (env DATA_DIR)")
	pidFile := flag.String("pidfile", os.Getenv("PID_FILE"), "write the PID of the serving process to this file, for kill -HUP and systemctl reload (env PID_FILE)")
	withUI := flag.Bool("riverui", envBool("RIVER_UI"), "serve River UI over the job queue at "+riverUIPath+" on -admin; it has no auth of its own: anyone who reaches -admin can read every job's args and cancel, retry and delete jobs (env RIVER_UI=1)")
	flag.Parse()
	// First thing: a process started by a reload picks up the listener
	// its parent hands over.
	// Reloads are counted for the report and /metrics: a failed one in
	// this process, which serves on; a successful one by the new process.
	proc, err := serve.New(serve.Config{PIDFile: *pidFile, OnReload: func(outcome string, err error) {
		if m := opa.GetManager(); m != nil && outcome != serve.ReloadOK {
			m.CountReload(outcome, err)
		}
	}})
	if err != nil {
		slog.Error("host stopped", "error", err)
		os.Exit(1)
	}
	if err := run(proc, *addr, *admin, *settings, *data, *withUI); err != nil {
		proc.Fail(err) // after a reload: the old host logs why, and serves on
		slog.Error("host stopped", "pid", os.Getpid(), "error", err)
		os.Exit(1)
	}
}

func run(proc *serve.Process, addr, adminAddr, settingsDir, dataDir string, withUI bool) error {
	if adminAddr == addr {
		// Two listeners of one address would be one socket to hand over
		// on a reload (serve.Process.Listen tells them apart by address).
		return fmt.Errorf("host: -admin and -addr are the same address (%s): give the operator's views an address of their own, e.g. -admin 127.0.0.1:8081 (with port 0 for both, write one as localhost:0)", addr)
	}
	cfg, err := config.Load(settingsDir, dataDir)
	if err != nil {
		return err
	}
	// Catch SIGINT and SIGTERM from the start: one that comes while the
	// host starts stops Startup (rolling back what it started), one just
	// after it says it listens still stops it gracefully.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	r := chi.NewRouter()
	// Middleware comes first: the plugins' routes get it too.
	r.Use(middleware.RequestID, middleware.Logger, middleware.Recoverer)
	// The operator's views have a router of their own, served only on
	// the private listener.
	admin := chi.NewRouter()
	admin.Use(middleware.RequestID, middleware.Logger, middleware.Recoverer)
	admin.Get("/opa/report", opa.ReportHandler())
	admin.Handle("/metrics", metricsHandler())
	var ui *riverUI
	if withUI && adminAddr != "" {
		ui = &riverUI{}
		ui.mount(admin)
	}
	// Compiled-in plugins: the River driver (the "jobs" component of the
	// settings) and the "enqueue" hook over it (see jobs.go). A signal
	// during Startup stops it (see startup.Run).
	opts := []opa.Option{opa.WithConfig(cfg), opa.WithPlugin("river", river.Plugin), opa.WithPlugin("enqueue", enqueuePlugin)}
	if err := startup.Run(ctx, stop, opts, func(ctx context.Context, m *opa.Manager) error { return m.Startup(ctx, r) }); err != nil {
		return err
	}
	if proc.HasParent() { // started by a reload, which succeeds if this process gets to serve
		opa.GetManager().CountReload(serve.ReloadOK, nil)
	}
	fmt.Print(opa.GetManager().Report())
	// River UI's background work stops before the queue closes: every
	// early return below stops it first (shutdown), as the end does.
	uiCtx, stopUI := context.WithCancel(context.Background())
	defer stopUI()
	shutdown := func(err error) error {
		stopUI()
		return errors.Join(err, opa.Shutdown(context.Background()))
	}
	if ui != nil {
		if err := ui.start(uiCtx, slog.Default()); err != nil {
			return shutdown(err)
		}
	}

	// The listeners the old host hands over on a reload, or new ones.
	// Only now that Startup succeeded does this process take them over:
	// Ready tells the old host to stop accepting and drain.
	ln, err := proc.Listen("tcp", addr)
	if err != nil {
		return shutdown(err)
	}
	var adminLn net.Listener
	if adminAddr != "" {
		if adminLn, err = proc.Listen("tcp", adminAddr); err != nil {
			return shutdown(err)
		}
	}
	if err := proc.Ready(); err != nil {
		return shutdown(err)
	}
	adminBase := ""
	if adminLn != nil {
		adminBase = "http://" + adminLn.Addr().String()
	}
	printTries(os.Stdout, "http://"+ln.Addr().String(), adminBase, ui != nil, opa.GetManager().Report())

	// Serve both until SIGINT/SIGTERM or until a new host serves, then
	// drain; a listener that fails stops the other too.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	adminErr := make(chan error, 1)
	if adminLn != nil {
		go func() {
			asrv := &http.Server{Handler: admin, ReadHeaderTimeout: 5 * time.Second}
			err := proc.Serve(ctx, asrv, adminLn, 10*time.Second)
			cancel()
			adminErr <- err
		}()
	} else {
		adminErr <- nil
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	err = proc.Serve(ctx, srv, ln, 10*time.Second)
	cancel()
	err = errors.Join(err, <-adminErr)
	stopUI()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, opa.Shutdown(shutdownCtx))
}

// envOr returns the variable key if it is set (also to ""), else def.
func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// envBool reports whether the variable key is set to 1, true or yes.
func envBool(key string) bool {
	switch strings.ToLower(os.Getenv(key)) {
	case "1", "true", "yes":
		return true
	}
	return false
}
