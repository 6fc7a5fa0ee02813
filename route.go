package opa

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
)

// route is one method and pattern a plugin's router serves.
type route struct {
	method, pattern string
	handler         http.Handler
	middlewares     []func(http.Handler) http.Handler
}

// paramName matches a chi URL parameter, to compare routes whatever their
// parameters are called: /u/{id} and /u/{name} are the same route.
var paramName = regexp.MustCompile(`\{[^:}]*(:[^}]*)?\}`)

func routeKey(method, pattern string) string {
	return method + " " + paramName.ReplaceAllString(pattern, "{$1}")
}

// routePlan is the routes of each plugin, checked and ready to mount.
type routePlan struct {
	plugins []*loaded
	routes  [][]route // per plugin, in plugin order
}

// planRoutes collects and checks every route of every plugin without
// touching host: a method and path claimed twice (by two plugins, or by a
// plugin and the host) is an error naming both owners, and a route chi
// refuses an error naming the plugin. Routes join the host at their own
// paths, as FastAPI's include_router does: no prefix, the host's middleware
// first, then the plugin router's own (see mount).
func planRoutes(host chi.Router, plugins []*loaded) (*routePlan, error) {
	// Every route is first tried on a scratch router, so one that chi panics
	// on (e.g. a duplicate param key across a subrouter) fails Startup before
	// the host holds half a plugin's routes.
	scratch := chi.NewRouter()
	owner := map[string]string{}
	if err := chi.Walk(host, func(method, pattern string, h http.Handler, _ ...func(http.Handler) http.Handler) error {
		if ph, ok := h.(*pluginHandler); ok && ph.retired.Load() {
			return nil // left by a failed Startup: free to mount again
		}
		owner[routeKey(method, pattern)] = "the host"
		return nil
	}); err != nil {
		return nil, fmt.Errorf("opa: routes: reading the host router: %w", err)
	}
	var errs []error
	perPlugin := make([][]route, len(plugins))
	for i, lp := range plugins {
		if lp.plugin.Router == nil {
			continue
		}
		if isNilPointer(lp.plugin.Router) {
			errs = append(errs, &PluginError{Plugin: lp.name, Path: lp.match, Step: "routes",
				Err: fmt.Errorf("its Router is a nil %T: set it to a router (opa.GetRouter()) or leave it out", lp.plugin.Router)})
			continue
		}
		err := walkRouter(lp.plugin.Router, func(method, pattern string, h http.Handler, mws ...func(http.Handler) http.Handler) error {
			key := routeKey(method, pattern)
			if prev, dup := owner[key]; dup {
				errs = append(errs, &PluginError{Plugin: lp.name, Path: lp.match, Step: "routes",
					Err: fmt.Errorf("%s %s is already served by %s: remove or move one of them", method, pattern, prev)})
				return nil
			}
			rt := route{method, pattern, h, mws}
			if err := addRoute(scratch, rt); err != nil {
				errs = append(errs, &PluginError{Plugin: lp.name, Path: lp.match, Step: "routes", Err: err})
				return nil
			}
			owner[key] = "plugin " + lp.name
			perPlugin[i] = append(perPlugin[i], rt)
			return nil
		})
		if err != nil {
			errs = append(errs, &PluginError{Plugin: lp.name, Path: lp.match, Step: "routes", Err: err})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, routes := range perPlugin {
		// chi.Walk keeps a pattern's methods in a map: sort, so the order of
		// mounting and of the report is the same on every run.
		slices.SortStableFunc(routes, func(a, b route) int {
			return cmp.Or(strings.Compare(a.pattern, b.pattern), strings.Compare(a.method, b.method))
		})
	}
	return &routePlan{plugins: plugins, routes: perPlugin}, nil
}

// isNilPointer says whether v is a nil pointer in a non-nil interface (a
// (*chi.Mux)(nil)), which == nil does not catch.
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// walkRouter is chi.Walk over a plugin's router, with a panic (a router
// that is broken in some other way) turned into an error.
func walkRouter(r chi.Router, fn chi.WalkFunc) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("reading its Router: %w", &PanicError{Value: v})
		}
	}()
	return chi.Walk(r, fn)
}

// mounting is how mount wraps each plugin route: the Manager's logger,
// whether panics are recovered (WithPanicRecovery) and the host's
// middleware per plugin (WithRouteMiddleware), if any.
type mounting struct {
	log        *slog.Logger
	recover    bool
	timeMask   uint64 // see pluginHandler
	middleware func(plugin string) func(http.Handler) http.Handler
}

// mount adds the planned routes to host, each handler wrapped in a
// pluginHandler of its own, which counts in its plugin's routeStats; it
// returns them in the order of the report (and, on an error, the routes
// mounted before it, to retire). A route is, from the outside
// in: the host router's own middleware, the host's middleware for the
// plugin (WithRouteMiddleware), the pluginHandler, the plugin router's
// middleware, the plugin's handler.
func (p *routePlan) mount(host chi.Router, how mounting) ([]RouteReport, *hostRoutes, error) {
	var report []RouteReport
	hr := &hostRoutes{router: host}
	for i, lp := range p.plugins {
		if len(p.routes[i]) == 0 {
			continue
		}
		stats := &routeStats{}
		var hostMW []func(http.Handler) http.Handler
		if how.middleware != nil {
			if mw := how.middleware(lp.name); mw != nil {
				hostMW = append(hostMW, mw)
			}
		}
		for _, rt := range p.routes[i] {
			next := rt.handler
			if len(rt.middlewares) > 0 {
				next = chi.Chain(rt.middlewares...).Handler(rt.handler)
			}
			ph := &pluginHandler{next: next, plugin: lp.name, method: rt.method, pattern: rt.pattern,
				stats: stats, recover: how.recover, timeMask: how.timeMask, log: how.log}
			if err := addRoute(host, route{rt.method, rt.pattern, ph, hostMW}); err != nil {
				return report, hr, &PluginError{Plugin: lp.name, Path: lp.match, Step: "routes", Err: err}
			}
			report = append(report, RouteReport{Method: rt.method, Pattern: rt.pattern, Plugin: lp.name})
			hr.mounted = append(hr.mounted, ph)
		}
	}
	return report, hr, nil
}

// addRoute registers one route, turning a chi panic into an error.
func addRoute(host chi.Router, rt route) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%s %s: the router refused it: %v", rt.method, rt.pattern, v)
		}
	}()
	r := host
	if len(rt.middlewares) > 0 {
		r = host.With(rt.middlewares...)
	}
	r.Method(rt.method, rt.pattern, rt.handler)
	return nil
}
