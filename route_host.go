package opa

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/go-chi/chi/v5"
)

// pluginHandler is a plugin route's handler as mounted on the host router:
// it counts the route's requests in its plugin's routeStats and recovers a
// panic in the plugin's handler (see ServeHTTP). It is a pointer of its
// own, so that a walk of the host router later tells whether the route
// still serves the plugin's handler, or a host route added after Startup
// replaced it (chi replaces a method and pattern registered twice,
// silently).
type pluginHandler struct {
	next            http.Handler // the plugin router's middlewares, then its handler
	plugin          string
	method, pattern string
	stats           *routeStats
	recover         bool   // recover panics (WithPanicRecovery)
	timeMask        uint64 // time one request in timeMask+1, a power of two (WithLatencySampling)
	log             *slog.Logger
	// retired is set when the Startup that mounted the route failed: chi
	// cannot take a route back, so the route answers 503 from then on,
	// and a later Startup may mount its own handler there.
	retired atomic.Bool

	// spare is written by every request: a cache line away from the fields
	// above, which every request reads.
	_     [64]byte
	spare spareWriter
}

// hostRoutes is what a Manager needs to see, after Startup, whether the
// host replaced one of the plugins' routes: the host router and the
// handlers mounted on it, in the order of Report.Routes.
type hostRoutes struct {
	router  chi.Router
	mounted []*pluginHandler

	mu     sync.Mutex
	warned map[string]bool // the routes already logged as replaced
}

// retire makes every route mounted answer 503 (see pluginHandler.retired):
// the Startup that mounted them failed.
func (h *hostRoutes) retire() {
	if h == nil {
		return
	}
	for _, ph := range h.mounted {
		ph.retired.Store(true)
	}
}

// markReplaced sets ReplacedByHost on each route of rep that the host
// router no longer serves with the plugin's handler, adds a warning for
// each, and logs each once per Manager. rep is a copy: its Routes and
// Warnings are cloned before they change.
func (h *hostRoutes) markReplaced(rep *Report, log func(msg string)) {
	if h == nil || len(h.mounted) != len(rep.Routes) {
		return
	}
	served := map[string]http.Handler{}
	err := chi.Walk(h.router, func(method, pattern string, handler http.Handler, _ ...func(http.Handler) http.Handler) error {
		served[routeKey(method, pattern)] = handler
		return nil
	})
	if err != nil {
		return
	}
	cloned := false
	for i, rt := range rep.Routes {
		if ph, ok := served[routeKey(rt.Method, rt.Pattern)].(*pluginHandler); ok && ph == h.mounted[i] {
			continue
		}
		if !cloned {
			rep.Routes, rep.Warnings, cloned = slices.Clone(rep.Routes), slices.Clone(rep.Warnings), true
		}
		rep.Routes[i].ReplacedByHost = true
		w := fmt.Sprintf("%s %s of plugin %s is replaced by the host: a host route added after Startup serves it (add host routes before Startup)", rt.Method, rt.Pattern, rt.Plugin)
		rep.Warnings = append(rep.Warnings, w)
		h.mu.Lock()
		first := !h.warned[w]
		if first {
			if h.warned == nil {
				h.warned = map[string]bool{}
			}
			h.warned[w] = true
		}
		h.mu.Unlock()
		if first {
			log("opa: " + w)
		}
	}
}
