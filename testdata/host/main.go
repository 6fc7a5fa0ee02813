// Command host is the test host: it starts opa with the configuration in its
// environment, then does what its flags say, and prints one JSON object that
// the tests read. It is built by the tests, with the same flags as the
// plugins, and run as a child process.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"plugin"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

type result struct {
	StartupError  string     `json:"startup_error,omitempty"`
	Report        opa.Report `json:"report"`
	Gets          []get      `json:"gets,omitempty"`
	Calls         []call     `json:"calls,omitempty"`
	ShutdownError string     `json:"shutdown_error,omitempty"`
	NoManager     bool       `json:"no_manager,omitempty"` // -package: opa.GetManager() was nil after Startup
}

type get struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
	Body   string `json:"body"`
	Host   string `json:"host_header"`
}

type call struct {
	Name   string `json:"name"`
	Result []any  `json:"result"`
	Error  string `json:"error,omitempty"`
}

func main() {
	var gets, calls, registers list
	flag.Var(&gets, "get", "GET this path through the router after startup (repeatable)")
	flag.Var(&calls, "call", "call this hook after startup, as NAME or NAME:ARG,ARG (repeatable)")
	flag.Var(&registers, "register", "register a compiled-in plugin NAME or NAME:TAG,TAG serving GET /NAME (repeatable)")
	simple := flag.Bool("simple", false, "use StartupSimple")
	pkg := flag.Bool("package", false, "use the package-level opa.Startup (or opa.StartupSimple); the report is opa.GetManager()'s, and -call runs even after a failed Startup")
	restart := flag.Bool("restart", false, "with -package: start and shut down once with another router first")
	retry := flag.Bool("retry", false, "with -package: when Startup fails, start once more with another router (the report and error are the second's)")
	route := flag.String("host-route", "", "a GET route the host serves itself")
	reportRoute := flag.String("report-route", "", "serve opa.ReportHandler at this path (-get it with ?format=json or ?format=html)")
	var opens list
	flag.Var(&opens, "open", "only call plugin.Open on this file, in order, and print each verdict as JSON (repeatable): the runtime's own verdict")
	flag.Parse()
	if len(opens) > 0 {
		openBare(opens)
		return
	}

	for _, reg := range registers {
		name, tags, _ := strings.Cut(reg, ":")
		r := opa.GetRouter()
		r.Get("/"+name, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "builtin "+name) })
		opa.Register(name, opa.Plugin{Router: r}, splitNonEmpty(tags)...)
	}

	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("X-Host", "yes")
			next.ServeHTTP(w, req)
		})
	})
	if *route != "" {
		r.Get(*route, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "host") })
	}
	if *reportRoute != "" {
		r.Get(*reportRoute, opa.ReportHandler())
	}

	var res result
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var err error
	if *pkg {
		start := func(r chi.Router) error {
			if *simple {
				return opa.StartupSimple(opa.WithLogger(logger))
			}
			return opa.Startup(r, opa.WithLogger(logger))
		}
		if *restart {
			if err = start(chi.NewRouter()); err == nil {
				err = opa.Shutdown(context.Background())
			}
		}
		if err == nil {
			err = start(r)
		}
		if err != nil && *retry {
			err = start(chi.NewRouter())
		}
		if m := opa.GetManager(); m != nil {
			res.Report = m.Report()
		} else {
			res.NoManager = true
		}
	} else {
		var m *opa.Manager
		m, err = opa.New(opa.WithLogger(logger))
		if err == nil {
			if *simple {
				err = m.StartupSimple(context.Background())
			} else {
				err = m.Startup(context.Background(), r)
			}
			res.Report = m.Report()
		}
		if err == nil {
			opa.SetDefault(m)
		}
	}
	if err != nil {
		res.StartupError = err.Error()
	}
	if err != nil && *pkg {
		res.Calls = callHooks(calls) // what the package-level functions say after a failed Startup
	}
	if err == nil {
		for _, p := range gets {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
			res.Gets = append(res.Gets, get{Path: p, Status: rec.Code, Body: rec.Body.String(), Host: rec.Header().Get("X-Host")})
		}
		res.Calls = callHooks(calls)
		if serr := opa.Shutdown(context.Background()); serr != nil {
			res.ShutdownError = serr.Error()
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
}

// callHooks calls each hook, given as NAME or NAME:ARG,ARG, through the
// package-level CallHook.
func callHooks(calls []string) []call {
	var out []call
	for _, c := range calls {
		name, args, _ := strings.Cut(c, ":")
		var in []any
		for _, a := range splitNonEmpty(args) {
			in = append(in, a)
		}
		res, err := opa.CallHook(name, in...)
		cr := call{Name: name, Result: res}
		if err != nil {
			cr.Error = err.Error()
		}
		out = append(out, cr)
	}
	return out
}

// openBare opens each file with plugin.Open, in order, with no check of
// opa's before it, and prints [{"file", "error"}]: what the runtime says.
func openBare(files []string) {
	type verdict struct {
		File  string `json:"file"`
		Error string `json:"error,omitempty"`
	}
	var out []verdict
	for _, f := range files {
		v := verdict{File: f}
		if _, err := plugin.Open(f); err != nil {
			v.Error = err.Error()
		}
		out = append(out, v)
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

func splitNonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
