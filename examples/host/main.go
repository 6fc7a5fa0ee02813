// Command host is the example host: a chi router, opa.Startup, and the
// plugin report at /opa/report.
//
//	go run ./host -addr 127.0.0.1:8080
//
// Settings come from OPA_ environment variables and the settings directory
// (OPA_SETTINGS_DIR); see the README.
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
)

func main() {
	addr := flag.String("addr", envOr("ADDR", "127.0.0.1:8080"), "address to listen on (env ADDR)")
	flag.Parse()
	if err := run(*addr); err != nil {
		slog.Error("host stopped", "error", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Logger, middleware.Recoverer)

	if err := opa.Startup(r); err != nil {
		return err
	}
	r.Get("/opa/report", opa.ReportHandler())

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = opa.Shutdown(context.Background())
		return err
	}
	base := "http://" + ln.Addr().String()
	fmt.Printf("opa example host listening on %s\n", base)
	fmt.Printf("try:\n  curl %s/hello\n  curl %s/get-fullname/ada/lovelace\n  curl %s/opa/report\n", base, base, base)
	fmt.Print(opa.GetManager().Report())

	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return errors.Join(err, opa.Shutdown(context.Background()))
	case <-ctx.Done():
	}
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
