package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Serve serves srv on ln until ctx ends (the program stops: Stop is
// called, no reload may start) or a new process took over (Exit), then
// stops accepting and drains the requests in flight with srv.Shutdown,
// bounded by drain (default 10 seconds). It returns nil after a clean
// drain, and the error if the listener fails. The caller then calls
// opa.Shutdown and exits.
func (p *Process) Serve(ctx context.Context, srv *http.Server, ln net.Listener, drain time.Duration) error {
	if drain <= 0 {
		drain = 10 * time.Second
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		p.Stop()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		p.Stop()
		p.log.Info("serve: shutting down: finishing requests, then closing components")
	case <-p.Exit():
		p.log.Info("serve: a new process serves: finishing requests, then exiting")
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("serve: drain: %w", err)
	}
	return nil
}
