package opa

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// ServeHTTP serves a request to a plugin's route: it counts the request,
// the class of its response and its latency in the plugin's counters, and
// recovers a panic in the plugin's handler or middleware (see
// WithPanicRecovery). A route whose Startup failed answers 503 (retired).
//
// What each part costs is in the "request to a plugin's route" row of
// BENCHMARKS.md and in BenchmarkPluginHandler:
//   - The status writer is the route's spare when no other request holds
//     it (spareWriter), and otherwise comes from a pool. An allocation per
//     request costs as much as the rest of the counting, and the pool's
//     Get and Put several times the spare's compare-and-swap and store
//     (BENCHMARKS.md, "a spare status writer per route").
//     A handler must not use its ResponseWriter once it has returned
//     (net/http's rule, whose own writer reuses its buffers the same way);
//     the writer is emptied first.
//   - Only one request in h.timeMask+1 is timed (WithLatencySampling), on
//     the monotonic clock alone (sinceEpoch): a timed request costs about
//     twice an untimed one.
//   - The deferred call is a method with its arguments (finish), which
//     costs less than a closure over a "returned" flag.
func (h *pluginHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.retired.Load() {
		http.Error(w, "plugin "+h.plugin+" is not loaded: the Startup that mounted "+h.method+" "+h.pattern+" failed", http.StatusServiceUnavailable)
		return
	}
	n := h.stats.requests.Add(1)
	sw := h.spare.get()
	sw.ResponseWriter, sw.code = w, 0
	start := time.Duration(-1) // not timed
	if (n-1)&h.timeMask == 0 { // the first request, then one in timeMask+1
		start = sinceEpoch()
	}
	defer h.finish(sw, r, start)
	h.next.ServeHTTP(sw, r)
}

// finish is ServeHTTP's deferred end: done for a handler that returned (or
// called runtime.Goexit), panicked for one that panicked.
func (h *pluginHandler) finish(sw *statusWriter, r *http.Request, start time.Duration) {
	if v := recover(); v != nil {
		h.panicked(sw, r, start, v)
		return
	}
	h.done(sw, start)
}

// epoch is where the clock of sinceEpoch starts.
var epoch = time.Now()

// sinceEpoch reads the monotonic clock, as time.Since does; time.Now reads
// the wall clock too.
func sinceEpoch() time.Duration { return time.Since(epoch) }

// done counts the response of a request timed from start (-1: not timed)
// and gives its status writer back.
func (h *pluginHandler) done(sw *statusWriter, start time.Duration) {
	code := sw.code
	if code == 0 {
		code = http.StatusOK // what net/http sends when the handler wrote nothing
	}
	h.stats.count(code)
	if start >= 0 {
		h.stats.observe(sinceEpoch() - start)
	}
	h.spare.put(sw)
}

// panicked is ServeHTTP's end when the handler panicked with v: it logs
// the panic, answers 500 if nothing was written yet, counts the response,
// and panics again where the host is to see it.
func (h *pluginHandler) panicked(sw *statusWriter, r *http.Request, start time.Duration, v any) {
	abort := v == any(http.ErrAbortHandler) // net/http's own quiet abort: no bug
	started := sw.code != 0
	if !abort {
		h.stats.panics.Add(1)
		if h.recover {
			h.log.Error("opa: a handler of plugin "+h.plugin+" panicked",
				"plugin", h.plugin, "method", r.Method, "pattern", h.pattern, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !started {
				http.Error(sw, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			}
		}
	}
	h.done(sw, start)
	switch {
	case !h.recover || abort:
		panic(v) // the host recovers (or net/http does)
	case started:
		// The response had started: close the connection, so that the
		// client does not take what it got for the whole response.
		panic(http.ErrAbortHandler)
	}
}

var writerPool = sync.Pool{New: func() any { return new(statusWriter) }}

// spareWriter is a route's own status writer, for one request at a time:
// a route whose requests do not overlap (most routes, most of the time)
// takes and returns it with an atomic compare-and-swap and a store, which
// cost less than a sync.Pool's Get and Put; a request that finds it taken
// uses the pool.
type spareWriter struct {
	busy atomic.Bool
	w    statusWriter
}

// get returns the spare if it is free, or a writer from the pool.
func (s *spareWriter) get() *statusWriter {
	if !s.busy.Load() && s.busy.CompareAndSwap(false, true) {
		return &s.w
	}
	return writerPool.Get().(*statusWriter)
}

// put empties sw and gives it back: to the spare, or to the pool.
func (s *spareWriter) put(sw *statusWriter) {
	sw.ResponseWriter = nil
	if sw == &s.w {
		s.busy.Store(false)
		return
	}
	writerPool.Put(sw)
}

// statusWriter records the status code a handler writes. It keeps the
// optional interfaces net/http's own writer has (Flusher, Hijacker,
// io.ReaderFrom) and unwraps for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	code int // 0 until the header is written
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) { // 1xx but 101 are informational
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// WriteString writes s through the wrapped writer's WriteString where it
// has one (net/http's does), without a copy of s into a byte slice.
func (w *statusWriter) WriteString(s string) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return io.WriteString(w.ResponseWriter, s)
}

// Unwrap returns the writer it wraps, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush flushes the writer it wraps, if that can.
func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hijacks the connection of the writer it wraps, if that can; the
// response counts as 1xx (a protocol switch, as for a WebSocket).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("opa: %w", err)
	}
	if w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return conn, rw, nil
}

// ReadFrom lets io.Copy use the wrapped writer's ReadFrom (sendfile).
func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return io.Copy(w.ResponseWriter, src)
}

var (
	_ http.Flusher    = (*statusWriter)(nil)
	_ http.Hijacker   = (*statusWriter)(nil)
	_ io.ReaderFrom   = (*statusWriter)(nil)
	_ io.StringWriter = (*statusWriter)(nil)
)
