package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
	rq "github.com/riverqueue/river"
	"riverqueue.com/riverui"
	"riverqueue.com/riverui/uiendpoints"
)

// riverUIPath is where River's own UI is served (host flag -riverui).
const riverUIPath = "/riverui"

// riverUI serves River UI (riverqueue.com/riverui) over the jobs
// component's queue: its jobs and queues, with buttons to cancel, retry and
// delete jobs and to pause queues. River UI works on both of River's
// databases, SQLite and Postgres. It has no auth of its own and shows
// every job's args as they are stored (opa's redaction does not reach it):
// the host serves it only when asked (-riverui), and only on the private
// admin listener; whoever reaches that address can use it.
//
// It answers 503 until start has found the queue.
type riverUI struct {
	h atomic.Pointer[riverui.Handler]
}

func (u *riverUI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := u.h.Load()
	if h == nil {
		http.Error(w, "River UI is not available: the jobs component is not connected (see the host's log and /opa/report)", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

// mount adds the UI's routes to r.
func (u *riverUI) mount(r interface {
	Handle(pattern string, h http.Handler)
}) {
	r.Handle(riverUIPath, u)
	r.Handle(riverUIPath+"/*", u)
}

// start builds River UI over the jobs component and starts its background
// work, which runs until ctx ends. Without a connected jobs component (LOAD
// auto or no) it logs why and leaves the UI answering 503.
func (u *riverUI) start(ctx context.Context, log *slog.Logger) error {
	jobs, err := opa.Instance[*river.Jobs](jobsComponent)
	if err != nil {
		log.Warn("River UI is not served: no job queue", "path", riverUIPath, "error", err)
		return nil
	}
	client, err := jobs.RiverClient()
	if err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	var endpoints uiendpoints.Bundle
	switch c := client.(type) {
	case *rq.Client[*sql.Tx]: // SQLite
		endpoints = riverui.NewEndpoints(c, nil)
	case *rq.Client[pgx.Tx]: // Postgres
		endpoints = riverui.NewEndpoints(c, nil)
	default:
		return fmt.Errorf("river UI: the jobs component's River client is a %T, which River UI is not wired for here", client)
	}
	h, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: endpoints, Logger: log, Prefix: riverUIPath})
	if err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	if err := h.Start(ctx); err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	u.h.Store(h)
	log.Warn("River UI is served; it has no auth of its own: whoever reaches the admin address can read every job's args and cancel, retry and delete jobs. "+
		"Keep -admin on localhost (the default) or a private network, or put it behind your own auth", "path", riverUIPath)
	return nil
}
