// Command starthost is the host of the Startup benchmark: it starts opa as
// a host's main does, with opa.Startup on a chi router and its settings from
// OPA_ environment variables (OPA_PLUGIN_PATHS names the plugins' folder),
// then shuts down and exits. The runner (cmd/opabench) times fresh
// processes of it against cmd/startbare.
//
// With -check it also calls every plugin's hook and route, and prints what
// loaded; it fails unless -want plugins did.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/bench/internal/memstat"
)

func main() {
	check := flag.Bool("check", false, "call every hook and route, and print what loaded")
	want := flag.Int("want", 0, "with -check, the number of plugins that must load")
	flag.Parse()

	r := chi.NewRouter()
	if err := opa.Startup(r); err != nil {
		fmt.Fprintln(os.Stderr, "starthost:", err)
		os.Exit(1)
	}
	if *check {
		if err := checkStarted(r, *want); err != nil {
			fmt.Fprintln(os.Stderr, "starthost:", err)
			os.Exit(1)
		}
	}
	if err := memstat.Record(); err != nil {
		fmt.Fprintln(os.Stderr, "starthost:", err)
		os.Exit(1)
	}
	if err := opa.Shutdown(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "starthost:", err)
		os.Exit(1)
	}
}

// checkStarted checks that want plugins loaded and that their hooks and
// routes answer.
func checkStarted(r chi.Router, want int) error {
	rep := opa.GetManager().Report()
	loaded := 0
	for _, p := range rep.Plugins {
		if !p.Loaded {
			return fmt.Errorf("plugin %s did not load: %s", p.Name, p.Reason)
		}
		loaded++
	}
	if loaded != want {
		return fmt.Errorf("%d plugins loaded, want %d", loaded, want)
	}
	for _, h := range rep.Hooks {
		res, err := opa.CallHook(h.Name, "x")
		if err != nil || len(res) != 1 || res[0] != h.Plugin+" x" {
			return fmt.Errorf("hook %s: %v %v", h.Name, res, err)
		}
	}
	for _, rt := range rep.Routes {
		req, err := http.NewRequest(rt.Method, rt.Pattern, nil)
		if err != nil {
			return err
		}
		w := &status{header: http.Header{}, code: http.StatusOK}
		r.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			return fmt.Errorf("%s %s: %d", rt.Method, rt.Pattern, w.code)
		}
	}
	fmt.Printf("%d plugins loaded, %d hooks, %d routes\n", loaded, len(rep.Hooks), len(rep.Routes))
	return nil
}

// status is a ResponseWriter that keeps the status code only (httptest
// would link more packages into the host than the bare loader has).
type status struct {
	header http.Header
	code   int
}

func (s *status) Header() http.Header         { return s.header }
func (s *status) Write(p []byte) (int, error) { return len(p), nil }
func (s *status) WriteHeader(code int)        { s.code = code }
