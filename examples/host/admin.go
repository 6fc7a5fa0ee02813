package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/metrics"
	"github.com/opa-stack/opa-go/serve"
)

// admin is the admin listener (-admin): what an operator reaches and the
// public never should, on an address of its own (a loopback or internal
// one). Like the public listener it is handed over on a reload.
type admin struct {
	router chi.Router
	srv    *http.Server
	ln     net.Listener
	errc   chan error
}

// metricsHandler serves opa's metrics (package metrics) and the Go
// runtime's and the process's, in Prometheus's format.
func metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(opa.GetManager), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// newAdmin returns the admin router, to mount routes on before listen.
func newAdmin() *admin { return &admin{router: chi.NewRouter()} }

// listen takes the admin address over from the old process on a reload, or
// listens on it, and serves the admin router on it.
func (a *admin) listen(proc *serve.Process, addr string) error {
	ln, err := proc.Listen("tcp", addr)
	if err != nil {
		return err
	}
	a.ln, a.errc = ln, make(chan error, 1)
	a.srv = &http.Server{Handler: a.router, ReadHeaderTimeout: 5 * time.Second}
	go func() { a.errc <- a.srv.Serve(ln) }()
	return nil
}

// URL is the admin listener's base URL, "" when it does not listen.
func (a *admin) URL() string {
	if a == nil || a.ln == nil {
		return ""
	}
	return "http://" + a.ln.Addr().String()
}

// shutdown stops the admin server, finishing its requests within ctx.
func (a *admin) shutdown(ctx context.Context) error {
	if a == nil || a.srv == nil {
		return nil
	}
	err := a.srv.Shutdown(ctx)
	if serr := <-a.errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
