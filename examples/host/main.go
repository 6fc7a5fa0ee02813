// Command host is the example host: a chi router with request logging and
// panic recovery, the plugins that opa loads, the plugin report at
// /opa/report, and a graceful shutdown on SIGINT or SIGTERM. It enqueues the
// plugins' background jobs (the "enqueue" hook, jobs.go); the example worker
// (../worker) runs them.
//
//	host -addr 127.0.0.1:8080 -settings examples/settings -data examples/build/data
//
// Every flag has an environment variable too (ADDR, OPA_SETTINGS_DIR,
// DATA_DIR); a flag wins. Where the plugins are is a setting like any other:
// OPA_PLUGIN_PATHS, or PLUGIN_PATHS in a settings file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/examples/internal/config"
	"github.com/opa-stack/opa-go/river"
)

func main() {
	addr := flag.String("addr", envOr("ADDR", "127.0.0.1:8080"), "address to listen on (env ADDR); port 0 picks a free one")
	settings := flag.String("settings", os.Getenv("OPA_SETTINGS_DIR"), "settings directory (env OPA_SETTINGS_DIR; default "+opa.DefaultSettingsDir+")")
	data := flag.String("data", envOr("DATA_DIR", "data"), "data directory: relative component files (OPTS.path, a river OPTS.url) are inside it (env DATA_DIR)")
	flag.Parse()
	if err := run(*addr, *settings, *data); err != nil {
		slog.Error("host stopped", "error", err)
		os.Exit(1)
	}
}

func run(addr, settingsDir, dataDir string) error {
	cfg, err := config.Load(settingsDir, dataDir)
	if err != nil {
		return err
	}
	// Catch SIGINT and SIGTERM from the start: one that comes while the
	// host starts, or just after it says it listens, still stops it
	// gracefully.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	r := chi.NewRouter()
	// Middleware comes first: the plugins' routes get it too.
	r.Use(middleware.RequestID, middleware.Logger, middleware.Recoverer)
	// Host routes before Startup, so a plugin claiming one is an error.
	r.Get("/opa/report", opa.ReportHandler())
	// Compiled-in plugins: the River driver (the "jobs" component of the
	// settings) and the "enqueue" hook over it (see jobs.go).
	if err := opa.Startup(r, opa.WithConfig(cfg),
		opa.WithPlugin("river", river.Plugin), opa.WithPlugin("enqueue", enqueuePlugin)); err != nil {
		return err
	}
	fmt.Print(opa.GetManager().Report())

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errors.Join(err, opa.Shutdown(context.Background()))
	}
	printTries(os.Stdout, "http://"+ln.Addr().String(), opa.GetManager().Report())

	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc: // the listener failed
		return errors.Join(err, opa.Shutdown(context.Background()))
	case <-ctx.Done():
	}
	slog.Info("shutting down: finishing requests, then closing components")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(srv.Shutdown(shutdownCtx), opa.Shutdown(shutdownCtx))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
