package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// idleGrace is how long a keep-alive connection must have been idle before
// a draining server closes it. A client in a request loop sends its next
// request on a connection within microseconds of the last response; if the
// server closed that connection at once (as http.Server.Shutdown does), the
// request and the close would cross and the request be lost. Waiting lets
// that request arrive: it is answered with "Connection: close". A
// connection left idle longer is parked, and closing it is the race any
// HTTP/1.1 server has at its idle timeout, which clients must retry
// (RFC 9112, section 9.3.1).
const idleGrace = time.Second

// Serve serves srv on ln until ctx ends (the program stops: Stop is
// called, no reload may start) or a new process took over (Exit), then
// drains, bounded by drain (default 10 seconds), so that no request is
// lost: it stops accepting (a new process accepts from the same socket),
// answers every request from then on with "Connection: close", closes each
// keep-alive connection only once it has been idle for a second, and
// finishes with srv.Shutdown. After a handover it has stopped accepting
// before the reload's outcome is written (PIDFile+".reload", which Trigger
// reads), so a connection made after that reaches the new process. It
// returns nil after a clean drain, and the
// error if the listener fails. The caller then calls opa.Shutdown and
// exits.
//
// Serve wraps srv.Handler and srv.ConnState (each still called) before it
// starts srv; set them before calling it.
func (p *Process) Serve(ctx context.Context, srv *http.Server, ln net.Listener, drain time.Duration) error {
	if drain <= 0 {
		drain = 10 * time.Second
	}
	d := wrap(srv)
	served := make(chan struct{}) // closed when srv.Serve has returned: its accept loop has ended
	var serveErr error
	go func() { serveErr = srv.Serve(ln); close(served) }()
	// stopAccepting: a new process accepts from the same socket. A
	// successful reload calls it before it reports the outcome, so that
	// no connection made after the report reaches this process.
	var handedOver atomic.Bool
	stopAccepting := func() error {
		d.draining.Store(true)
		err := ln.Close()
		<-served
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		if serveErr != nil && !errors.Is(serveErr, net.ErrClosed) && !errors.Is(serveErr, http.ErrServerClosed) {
			err = errors.Join(err, serveErr)
		}
		return err
	}
	p.onHandover(func() {
		handedOver.Store(true)
		_ = stopAccepting() // its error is Serve's to return, below
	})
	select {
	case <-served:
		if !handedOver.Load() {
			p.Stop()
			return fmt.Errorf("serve: %w", serveErr)
		}
		<-p.Exit() // the reload reports its outcome, then closes Exit
		p.log.Info("serve: a new process serves: finishing requests, then exiting")
	case <-ctx.Done():
		p.Stop()
		p.log.Info("serve: shutting down: finishing requests, then closing components")
	case <-p.Exit():
		p.log.Info("serve: a new process serves: finishing requests, then exiting")
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	// Stop accepting (if the handover did not already). srv.Serve returns
	// once its accept loop has ended, so every connection it accepted is
	// tracked by then.
	err := stopAccepting()
	err = errors.Join(err, d.settle(sctx))
	err = errors.Join(err, srv.Shutdown(sctx))
	if err != nil {
		return fmt.Errorf("serve: drain: %w", err)
	}
	return nil
}

// drainer tracks a server's connections for Serve's drain.
type drainer struct {
	draining atomic.Bool
	mu       sync.Mutex
	conns    map[net.Conn]connState
}

type connState struct {
	state http.ConnState
	since time.Time // when it entered state
}

// wrap makes srv's responses say "Connection: close" once d.draining is
// set, and tracks srv's connections in d.
func wrap(srv *http.Server) *drainer {
	d := &drainer{conns: map[net.Conn]connState{}}
	next := srv.Handler
	if next == nil {
		next = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.draining.Load() && r.ProtoMajor == 1 {
			// net/http then closes the connection after this response,
			// and the client knows not to send another request on it.
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
	hook := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		d.mu.Lock()
		if s == http.StateClosed || s == http.StateHijacked {
			delete(d.conns, c)
		} else {
			d.conns[c] = connState{s, time.Now()}
		}
		d.mu.Unlock()
		if hook != nil {
			hook(c, s)
		}
	}
	return d
}

// settle waits, bounded by ctx, until no connection is in a request (new
// ones included, as http.Server.Shutdown waits for them) and every
// keep-alive connection has been idle for idleGrace; it closes those.
// What is left for srv.Shutdown is then only connections it may close.
func (d *drainer) settle(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if d.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// closeIdle closes the connections idle for idleGrace and reports whether
// no other is left. A connection that has not sent its first request for 5
// seconds counts as idle, as in http.Server.Shutdown.
func (d *drainer) closeIdle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	done := true
	now := time.Now()
	for c, cs := range d.conns {
		switch {
		case cs.state == http.StateIdle && now.Sub(cs.since) >= idleGrace,
			cs.state == http.StateNew && now.Sub(cs.since) >= 5*time.Second:
			_ = c.Close()
			delete(d.conns, c)
		default:
			done = false
		}
	}
	return done
}
