// Command readmehost is the README's host in its first, shorter form, for
// the real-plugin tests (testdata/readmemain is the README's complete host,
// word for word): the package-level API (opa.Startup, opa.CallHook,
// opa.Shutdown) as a user writes it. It differs only where a test needs it
// to: it listens on a port the kernel picks and prints "listening on
// ADDR" (no port to race for), it serves the README's handler that calls a
// hook by name at GET /call/{hook}?arg=A&arg=B, and it returns from main at
// SIGTERM or SIGINT so that its deferred Shutdown runs (the README's
// log.Fatal(http.ListenAndServe(...)) exits without running it).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/opa-stack/opa-go"
)

func main() {
	r := chi.NewRouter()
	r.Use(middleware.Logger)                  // middleware first: plugin routes get it too
	r.Get("/opa/report", opa.ReportHandler()) // host routes first: plugins that claim them are refused
	r.Get("/call/{hook}", callHook)
	if err := opa.Startup(r); err != nil {
		log.Fatal(err)
	}
	defer func() { fmt.Fprintf(os.Stderr, "readmehost: Shutdown: %v\n", opa.Shutdown(context.Background())) }()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() { log.Fatal(http.Serve(ln, r)) }()
	fmt.Printf("listening on %s\n", ln.Addr())
	<-stop
}

// callHook is the README's "a handler calls a hook by name": it answers the
// hook's results as JSON, or its error.
func callHook(w http.ResponseWriter, req *http.Request) {
	var args []any
	for _, a := range req.URL.Query()["arg"] {
		args = append(args, a)
	}
	res, err := opa.CallHook(chi.URLParam(req, "hook"), args...)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(res)
}
