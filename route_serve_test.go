package opa

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stringRecorder is a ResponseRecorder that counts the calls of its
// WriteString, to show that a statusWriter passes them through.
type stringRecorder struct {
	*httptest.ResponseRecorder
	strings int
}

func (r *stringRecorder) WriteString(s string) (int, error) {
	r.strings++
	return r.ResponseRecorder.WriteString(s)
}

// TestStatusWriter: the status a statusWriter records is the first final
// one written, or 200 for a body written first by any of its ways, and it
// keeps the optional interfaces of the writer it wraps.
func TestStatusWriter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, w *statusWriter)
		code  int // what it records
		body  string
	}{
		{"nothing", func(*testing.T, *statusWriter) {}, 0, ""},
		{"a status", func(_ *testing.T, w *statusWriter) { w.WriteHeader(http.StatusTeapot); w.WriteHeader(http.StatusOK) }, http.StatusTeapot, ""},
		{"1xx before the status", func(_ *testing.T, w *statusWriter) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		}, http.StatusAccepted, ""},
		{"101", func(_ *testing.T, w *statusWriter) { w.WriteHeader(http.StatusSwitchingProtocols) }, http.StatusSwitchingProtocols, ""},
		{"Write", func(_ *testing.T, w *statusWriter) { _, _ = w.Write([]byte("x")) }, http.StatusOK, "x"},
		{"WriteString", func(_ *testing.T, w *statusWriter) { _, _ = io.WriteString(w, "s") }, http.StatusOK, "s"},
		{"ReadFrom", func(t *testing.T, w *statusWriter) {
			n, err := io.Copy(w, strings.NewReader("copied"))
			require.NoError(t, err)
			assert.Equal(t, int64(6), n)
		}, http.StatusOK, "copied"},
		{"Flush", func(_ *testing.T, w *statusWriter) { w.Flush() }, http.StatusOK, ""},
		{"a status, then a body", func(_ *testing.T, w *statusWriter) {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte("b"))
		}, http.StatusCreated, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &stringRecorder{ResponseRecorder: httptest.NewRecorder()}
			w := &statusWriter{ResponseWriter: rec}
			tc.write(t, w)
			assert.Equal(t, tc.code, w.code)
			assert.Equal(t, tc.body, rec.Body.String())
			if tc.name == "WriteString" {
				assert.Equal(t, 1, rec.strings, "WriteString goes to the wrapped writer's")
			}
			if tc.name == "Flush" {
				assert.True(t, rec.Flushed)
			}
		})
	}

	t.Run("Unwrap, for http.ResponseController", func(t *testing.T) {
		rec := httptest.NewRecorder()
		w := &statusWriter{ResponseWriter: rec}
		assert.Same(t, rec, w.Unwrap())
		require.NoError(t, http.NewResponseController(w).Flush())
		assert.True(t, rec.Flushed)
	})

	t.Run("Hijack of a writer that cannot", func(t *testing.T) {
		w := &statusWriter{ResponseWriter: httptest.NewRecorder()}
		_, _, err := w.Hijack()
		require.ErrorIs(t, err, http.ErrNotSupported)
		assert.True(t, strings.HasPrefix(err.Error(), "opa: "), err.Error())
		assert.Zero(t, w.code, "a failed hijack is no response")
	})
}

// TestPluginHandlerGoexit: a handler that ends its goroutine with
// runtime.Goexit (as t.FailNow does) is counted as a response, not a
// panic, and goes on ending the goroutine.
func TestPluginHandlerGoexit(t *testing.T) {
	stats := &routeStats{}
	ph := &pluginHandler{next: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		runtime.Goexit()
	}), plugin: "p", method: http.MethodGet, pattern: "/", stats: stats, recover: true, log: slog.New(slog.DiscardHandler)}
	done := make(chan error, 1)
	go func() {
		returned := false
		defer func() {
			if returned {
				done <- errors.New("ServeHTTP returned")
			} else {
				done <- nil
			}
		}()
		ph.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		returned = true
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's goroutine did not end within 10s")
	}
	assert.Equal(t, uint64(1), stats.requests.Load())
	assert.Equal(t, uint64(1), stats.classes[1].Load(), "202 counted")
	assert.Zero(t, stats.panics.Load())
	assert.Equal(t, uint64(1), sumBuckets(stats), "the first request is timed")
}

func sumBuckets(s *routeStats) uint64 {
	var n uint64
	for i := range s.buckets {
		n += s.buckets[i].Load()
	}
	return n
}

// TestPluginHandlerOverlapping: requests to one route that overlap each
// get a status writer of their own (the route's spare for one, the pool's
// for the others), so that each records its own status; and the spare is
// free again once they all ended.
func TestPluginHandlerOverlapping(t *testing.T) {
	const n = 8
	stats := &routeStats{}
	entered := make(chan struct{}, n)
	release := make(chan struct{})
	ph := &pluginHandler{next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Query().Get("code"))
		if err != nil {
			panic(err)
		}
		entered <- struct{}{}
		<-release // all n are inside the handler at once
		w.WriteHeader(code)
	}), plugin: "p", method: http.MethodGet, pattern: "/", stats: stats, recover: true, log: slog.New(slog.DiscardHandler)}
	codes := []int{200, 201, 404, 500, 301, 503, 204, 418}
	recs := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i, code := range codes {
		recs[i] = httptest.NewRecorder()
		wg.Go(func() {
			ph.ServeHTTP(recs[i], httptest.NewRequest(http.MethodGet, "/?code="+strconv.Itoa(code), nil))
		})
	}
	for range n {
		<-entered
	}
	assert.True(t, ph.spare.busy.Load(), "one of the requests holds the spare")
	close(release)
	wg.Wait()
	for i, code := range codes {
		assert.Equal(t, code, recs[i].Code, "request %d", i)
	}
	assert.Equal(t, [5]uint64{0, 3, 1, 2, 2}, [5]uint64{stats.classes[0].Load(), stats.classes[1].Load(), stats.classes[2].Load(), stats.classes[3].Load(), stats.classes[4].Load()})
	assert.False(t, ph.spare.busy.Load(), "the spare is free once the requests ended")
	assert.Nil(t, ph.spare.w.ResponseWriter, "and emptied")
}
