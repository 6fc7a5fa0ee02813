package opa

import (
	"log/slog"
	"net/http"

	"github.com/spf13/viper"
)

// Option configures a Manager; pass options to New, Startup or StartupSimple.
type Option func(*options)

// options is what the Options collect.
type options struct {
	config   *Config
	viper    *viper.Viper
	logger   *slog.Logger
	builtins []namedRegistration
	hooks    []HookDefinition // WithHooks
	// routeMiddleware is WithRouteMiddleware's; noRecover is
	// WithPanicRecovery(false).
	routeMiddleware func(plugin string) func(http.Handler) http.Handler
	noRecover       bool
	timeEvery       int // WithLatencySampling
}

// WithConfig makes the Manager use c instead of loading settings files and
// OPA_ environment variables. c is checked as LoadConfig's result would be.
func WithConfig(c Config) Option {
	return func(s *options) { s.config = &c }
}

// WithViper makes the Manager load its config with LoadConfig(v), so a host
// can share one viper instance with the library.
func WithViper(v *viper.Viper) Option {
	return func(s *options) { s.viper = v }
}

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *options) { s.logger = l }
}

// WithPlugin adds a compiled-in plugin to this Manager only, as Register does
// for every Manager: it acts as if it lived in the default plugin path. A name
// given to WithPlugin hides a plugin of that name given to Register.
func WithPlugin(name string, p Plugin, tags ...string) Option {
	return func(s *options) {
		s.builtins = append(s.builtins, namedRegistration{name, registration{plugin: p, tags: tags}})
	}
}

// WithRouteMiddleware gives the host a middleware for each plugin's routes,
// made once per plugin at Startup by mw(plugin name): tracing (otelhttp),
// auth or rate limits per plugin. It is applied when the routes are
// mounted, inside the host router's own middleware and outside opa's
// counting and the plugin router's middleware, so a request costs what the
// middleware costs and nothing more. mw may return nil for a plugin it
// leaves alone.
func WithRouteMiddleware(mw func(plugin string) func(http.Handler) http.Handler) Option {
	return func(s *options) { s.routeMiddleware = mw }
}

// WithPanicRecovery says whether a panic in a plugin's handler is recovered
// where the plugin's routes are mounted; the default is true. Recovered, a
// panic is one ERROR line naming the plugin, the method, the pattern, the
// panic value and the stack, and the client gets a 500 if nothing was
// written yet (else the connection is closed). Set false for a host that
// recovers panics itself: the panic is then counted (Stats) and goes on
// up, unchanged. A panic in a goroutine that a plugin started is never
// recovered: no Go program can recover another goroutine's panic, and it
// ends the process.
func WithPanicRecovery(on bool) Option {
	return func(s *options) { s.noRecover = !on }
}

// DefaultLatencySampling is how many requests to a plugin's routes there
// are for each one timed, unless WithLatencySampling says otherwise.
const DefaultLatencySampling = 16 // a power of two

// WithLatencySampling makes the latency histogram of each plugin's routes
// (Stats) time the first request and then one in every n, n rounded up to
// a power of two (so that choosing costs a mask, not a division): 1 times
// every request. Zero or less keeps DefaultLatencySampling. Requests,
// responses and panics are always all counted; only the clock is sampled,
// because reading it twice costs more than the rest of the counting
// together.
func WithLatencySampling(n int) Option {
	return func(s *options) { s.timeEvery = n }
}

// latencyMask is the mask of WithLatencySampling(n): n rounded up to a
// power of two, minus one.
func latencyMask(n int) uint64 {
	if n <= 0 {
		n = DefaultLatencySampling
	}
	p := uint64(1)
	for p < uint64(n) && p < 1<<62 {
		p <<= 1
	}
	return p - 1
}
