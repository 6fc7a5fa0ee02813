package opa

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// ServeHTTP serves a request to a plugin's route: it counts the request,
// the class of its response and its latency in the plugin's counters, and
// recovers a panic in the plugin's handler or middleware (see
// WithPanicRecovery).
//
// The status writer comes from a pool: an allocation per request costs as
// much as the rest of the counting (the "request to a plugin's route" row
// of BENCHMARKS.md, BenchmarkPluginHandler). A handler must not use its
// ResponseWriter once it has returned (net/http's rule, whose own writer
// reuses its buffers the same way); the pooled writer is emptied first.
//
// Only one request in h.timeMask+1 is timed (WithLatencySampling), on the
// monotonic clock alone (sinceEpoch): reading the clock costs as much as
// the rest of the counting together (the same row).
//
// A request that returns is counted by done, after the handler; only one
// that does not (a panic, or runtime.Goexit) goes through panicked, whose
// recover would otherwise be paid by every request (the same row).
func (h *pluginHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := h.stats.requests.Add(1)
	sw := writerPool.Get().(*statusWriter)
	sw.ResponseWriter, sw.code = w, 0
	start := time.Duration(-1) // not timed
	if (n-1)&h.timeMask == 0 { // the first request, then one in timeMask+1
		start = sinceEpoch()
	}
	returned := false
	defer func() {
		if !returned {
			h.panicked(sw, r, start, recover())
		}
	}()
	h.next.ServeHTTP(sw, r)
	returned = true
	h.done(sw, start)
}

// epoch is where the clock of sinceEpoch starts.
var epoch = time.Now()

// sinceEpoch reads the monotonic clock, as time.Since does; time.Now reads
// the wall clock too.
func sinceEpoch() time.Duration { return time.Since(epoch) }

// done counts the response of a request timed from start (-1: not timed)
// and puts its status writer back in the pool.
func (h *pluginHandler) done(sw *statusWriter, start time.Duration) {
	code := sw.code
	if code == 0 {
		code = http.StatusOK // what net/http sends when the handler wrote nothing
	}
	h.stats.count(code)
	if start >= 0 {
		h.stats.observe(sinceEpoch() - start)
	}
	sw.ResponseWriter = nil
	writerPool.Put(sw)
}

// panicked is ServeHTTP's end when the handler did not return, with v
// what recover returned (nil for runtime.Goexit): it logs a panic, answers
// 500 if nothing was written yet, counts the response, and panics again
// where the host is to see it.
func (h *pluginHandler) panicked(sw *statusWriter, r *http.Request, start time.Duration, v any) {
	abort := v != nil && v == any(http.ErrAbortHandler) // net/http's own quiet abort: no bug
	started := sw.code != 0
	if v != nil && !abort {
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
	case v == nil:
	case !h.recover || abort:
		panic(v) // the host recovers (or net/http does)
	case started:
		// The response had started: close the connection, so that the
		// client does not take what it got for the whole response.
		panic(http.ErrAbortHandler)
	}
}

var writerPool = sync.Pool{New: func() any { return new(statusWriter) }}

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
