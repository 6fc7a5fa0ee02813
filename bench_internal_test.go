package opa

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

var (
	benchSinkMeta   Meta
	benchSinkReason string
)

// BenchmarkParseMeta parses a typical meta.json (see bench_discover_test.go).
func BenchmarkParseMeta(b *testing.B) {
	data := []byte(`{"tags": ["team-1", "tier-2"], "version": "1.1234.0", "description": "benchmark candidate 1234"}`)
	b.ReportAllocs()
	for range b.N {
		m, err := parseMeta(data)
		if err != nil {
			b.Fatal(err)
		}
		benchSinkMeta = m
	}
}

// BenchmarkFilterCheck runs the six filters of benchFilterConfig on one
// candidate.
func BenchmarkFilterCheck(b *testing.B) {
	dir := "/tmp/BenchmarkDiscover/001"
	var white, black []string
	for i := range 16 {
		white = append(white, fmt.Sprintf("%s/p%05d", dir, i*10+7))
		black = append(black, fmt.Sprintf("%s/p%05d", dir, i*10+3))
	}
	f, err := newFilters(Config{WhitelistList: white, WhitelistRE: `.*/p0`, WhitelistTags: []string{"team-1", "team-2", "team-3"},
		BlacklistList: black, BlacklistRE: `.*7$`, BlacklistTags: []string{"tier-0"}})
	if err != nil {
		b.Fatal(err)
	}
	match, tags := dir+"/p01234", []string{"team-1", "tier-2"}
	b.ReportAllocs()
	for range b.N {
		benchSinkReason = f.check(match, tags)
	}
}

// BenchmarkPluginHandler is what a pluginHandler adds to a request, alone:
// a handler that writes nothing, called through a pluginHandler (counting,
// panic recovery, one request in DefaultLatencySampling timed) and
// directly.
func BenchmarkPluginHandler(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	for _, tc := range []struct {
		name string
		mask uint64
	}{{"sampled", DefaultLatencySampling - 1}, {"every", 0}} {
		ph := &pluginHandler{next: next, plugin: "p", method: "GET", pattern: "/", stats: &routeStats{}, recover: true, timeMask: tc.mask, log: slog.New(slog.DiscardHandler)}
		b.Run("counted-"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				ph.ServeHTTP(w, req)
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			next.ServeHTTP(w, req)
		}
	})
}
