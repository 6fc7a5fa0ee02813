package opa_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/opa-stack/opa-go"
)

// benchHandler is the handler of every benchmark route.
func benchHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, chi.URLParam(r, "id"))
}

// benchRoutes are the routes of plugin p of the route benchmarks: k routes,
// half static (/pNNN/sK), half with a URL parameter (/pNNN/iK/{id}).
func benchRoutes(p, k int) []string {
	var out []string
	for i := range k {
		if i%2 == 0 {
			out = append(out, fmt.Sprintf("/p%03d/i%d/{id}", p, i/2))
		} else {
			out = append(out, fmt.Sprintf("/p%03d/s%d", p, i/2))
		}
	}
	return out
}

// benchRouters returns a host router on which a started Manager mounted n
// plugins of k routes each, and a chi router with the same routes and
// handler registered directly. Each is built in one go, so that neither
// router's nodes are spread between the other's in memory.
func benchRouters(b *testing.B, n, k int) (host, direct chi.Router) {
	b.Helper()
	opts := []opa.Option{opa.WithConfig(opa.Config{DefaultPluginPath: b.TempDir()}), opa.WithLogger(benchQuietLog())}
	for p := range n {
		r := opa.GetRouter()
		for _, pattern := range benchRoutes(p, k) {
			r.Get(pattern, benchHandler)
		}
		opts = append(opts, opa.WithPlugin(fmt.Sprintf("p%03d", p), opa.Plugin{Router: r}))
	}
	m, err := opa.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	host = chi.NewRouter()
	if err := m.Startup(b.Context(), host); err != nil {
		b.Fatal(err)
	}
	if got := len(m.Report().Routes); got != n*k {
		b.Fatalf("%d routes mounted, want %d", got, n*k)
	}
	direct = chi.NewRouter()
	for p := range n {
		for _, pattern := range benchRoutes(p, k) {
			direct.Get(pattern, benchHandler)
		}
	}
	return host, direct
}

// benchWriter is a ResponseWriter that keeps nothing, so that the router
// is what is measured.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(int)             {}

// routeInstances is how many host routers, and as many direct ones, a
// BenchmarkRoute case builds and takes in rotation, one per turn: where a
// router's nodes happen to lie in memory moves its speed by several percent
// from one process to the next, and the rotation averages that out.
const routeInstances = 16

// BenchmarkRoute sends requests to a route a plugin provides, through the
// host router opa mounted it on, and through a chi router where the same
// handler was registered directly, in turns (see runInterleaved): with one
// plugin of one route, and with 100 plugins of 10 routes each.
func BenchmarkRoute(b *testing.B) {
	for _, size := range []struct{ n, k, p int }{{1, 1, 0}, {100, 10, 50}} {
		b.Run(fmt.Sprintf("routes=%d", size.n*size.k), func(b *testing.B) {
			var hosts, directs []http.Handler
			for range routeInstances {
				host, direct := benchRouters(b, size.n, size.k)
				hosts, directs = append(hosts, host), append(directs, direct)
			}
			path := fmt.Sprintf("/p%03d/i0/42", size.p)
			for _, h := range append(slices.Clone(hosts), directs...) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code != http.StatusOK || rec.Body.String() != "42" {
					b.Fatalf("GET %s: %d %q", path, rec.Code, rec.Body.String())
				}
			}
			serve := func(hs []http.Handler) func(int) {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				w := &benchWriter{h: http.Header{}}
				turn := 0
				return func(n int) {
					h := hs[turn%len(hs)]
					turn++
					for range n {
						h.ServeHTTP(w, req)
					}
				}
			}
			runInterleaved(b, "req",
				benchSide{"plugin", 1000, 100, serve(hosts)},
				benchSide{"direct", 1000, 100, serve(directs)})
		})
	}
}
