// Command host is the example host: a chi router with request logging and
// panic recovery, the plugins that opa loads, the plugin report at
// /opa/report, a graceful shutdown on SIGINT or SIGTERM, and a graceful
// reload on SIGHUP (package serve): a new host process loads the plugins
// again and takes over the listening socket only once its Startup
// succeeded; this one then drains and exits. It enqueues the plugins'
// background jobs (the "enqueue" hook, jobs.go); the example worker
// (../worker) runs them. With -riverui it serves River's own UI over the
// job queue at /riverui (riverui.go); River UI has no auth of its own.
//
// With -admin ADDR it serves what is for operators only on a listener of
// its own (admin.go): Prometheus metrics at /metrics, per plugin.
//
//	host -addr 127.0.0.1:8080 -admin 127.0.0.1:8081 -settings examples/settings -data examples/build/data -pidfile build/host.pid
//
// Every flag has an environment variable too (ADDR, ADMIN_ADDR,
// OPA_SETTINGS_DIR, DATA_DIR, PID_FILE, RIVER_UI=1); a flag wins. Where the plugins are is a setting like any other:
// OPA_PLUGIN_PATHS, or PLUGIN_PATHS in a settings file.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
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
	addr := flag.String("addr", cmp.Or(os.Getenv("ADDR"), "127.0.0.1:8080"), "address to listen on (env ADDR); port 0 picks a free one")
	settings := flag.String("settings", os.Getenv("OPA_SETTINGS_DIR"), "settings directory (env OPA_SETTINGS_DIR; default "+opa.DefaultSettingsDir+")")
	data := flag.String("data", cmp.Or(os.Getenv("DATA_DIR"), "data"), "data directory: relative component files (OPTS.path, a river OPTS.url) are inside it (env DATA_DIR)")
	pidFile := flag.String("pidfile", os.Getenv("PID_FILE"), "write the PID of the serving process to this file, for kill -HUP and systemctl reload (env PID_FILE)")
	withUI := flag.Bool("riverui", envBool("RIVER_UI"), "serve River UI over the job queue at "+riverUIPath+"; it has no auth of its own: anyone who reaches -addr can cancel, retry and delete jobs (env RIVER_UI=1)")
	adminAddr := flag.String("admin", os.Getenv("ADMIN_ADDR"), "serve the admin endpoints on this address, for operators only (env ADMIN_ADDR); empty: no admin listener")
	flag.Parse()
	// First thing: a process started by a reload picks up the listener
	// its parent hands over.
	// Reloads are counted for the report and /metrics: a failed one in
	// this process, which serves on; a successful one by the new process.
	proc, err := serve.New(serve.Config{PIDFile: *pidFile, OnReload: func(outcome string) {
		if m := opa.GetManager(); m != nil && outcome != serve.ReloadOK {
			m.CountReload(outcome)
		}
	}})
	if err != nil {
		slog.Error("host stopped", "error", err)
		os.Exit(1)
	}
	if err := run(proc, *addr, *adminAddr, *settings, *data, *withUI); err != nil {
		proc.Fail(err) // after a reload: the old host logs why, and serves on
		slog.Error("host stopped", "pid", os.Getpid(), "error", err)
		os.Exit(1)
	}
}

func run(proc *serve.Process, addr, adminAddr, settingsDir, dataDir string, withUI bool) error {
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
	// Host routes before Startup, so a plugin claiming one is an error.
	r.Get("/opa/report", opa.ReportHandler())
	var ui *riverUI
	if withUI {
		ui = &riverUI{}
		ui.mount(r)
	}
	// Compiled-in plugins: the River driver (the "jobs" component of the
	// settings) and the "enqueue" hook over it (see jobs.go). A signal
	// during Startup stops it (see startup.Run).
	opts := []opa.Option{opa.WithConfig(cfg), opa.WithPlugin("river", river.Plugin), opa.WithPlugin("enqueue", enqueuePlugin)}
	if err := startup.Run(ctx, stop, opts, func(ctx context.Context, m *opa.Manager) error { return m.Startup(ctx, r) }); err != nil {
		return err
	}
	if proc.HasParent() { // started by a reload, which succeeds if this process gets to serve
		opa.GetManager().CountReload(serve.ReloadOK)
	}
	fmt.Print(opa.GetManager().Report())
	// River UI's background work stops before the queue closes.
	uiCtx, stopUI := context.WithCancel(context.Background())
	defer stopUI()
	if ui != nil {
		if err := ui.start(uiCtx, slog.Default()); err != nil {
			stopUI()
			return errors.Join(err, opa.Shutdown(context.Background()))
		}
	}

	// The listener the old host hands over on a reload, or a new one. Only
	// now that Startup succeeded does this process take it over: Ready
	// tells the old host to stop accepting and drain.
	ln, err := proc.Listen("tcp", addr)
	if err != nil {
		return errors.Join(err, opa.Shutdown(context.Background()))
	}
	var adm *admin
	if adminAddr != "" {
		adm = newAdmin()
		adm.router.Handle("/metrics", metricsHandler())
		if err := adm.listen(proc, adminAddr); err != nil {
			return errors.Join(err, opa.Shutdown(context.Background()))
		}
	}
	if err := proc.Ready(); err != nil {
		return errors.Join(err, adm.shutdown(context.Background()), opa.Shutdown(context.Background()))
	}
	printTries(os.Stdout, "http://"+ln.Addr().String(), adm.URL(), opa.GetManager().Report())

	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	// Serve until SIGINT/SIGTERM or until a new host serves, then drain.
	err = proc.Serve(ctx, srv, ln, 10*time.Second)
	stopUI()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, adm.shutdown(shutdownCtx), opa.Shutdown(shutdownCtx))
}

// envBool reports whether the variable key is set to 1, true or yes.
func envBool(key string) bool {
	switch strings.ToLower(os.Getenv(key)) {
	case "1", "true", "yes":
		return true
	}
	return false
}
