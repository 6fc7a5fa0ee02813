package main

import (
	"cmp"
	"context"
	"fmt"
	"log"
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
	// Ctrl-C or SIGTERM cancels ctx: during Startup it stops Startup, later the server.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	r := chi.NewRouter()
	r.Use(middleware.Logger)                  // middleware first: plugin routes get it too
	r.Get("/opa/report", opa.ReportHandler()) // host routes first: plugins that claim them are refused
	if err := opa.StartupContext(ctx, r); err != nil {
		return err // what was connected is closed again
	}
	defer func() { // last: close the components, in reverse order
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := opa.Shutdown(sctx); err != nil {
			log.Print(err)
		}
	}()

	ln, err := net.Listen("tcp", cmp.Or(os.Getenv("ADDR"), "127.0.0.1:8080"))
	if err != nil {
		return err
	}
	fmt.Println("listening on", ln.Addr())
	srv := &http.Server{Handler: r}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done(): // SIGTERM or Ctrl-C
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx) // first: stop taking requests, finish those in flight
}
