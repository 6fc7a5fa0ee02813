package opa

import (
	"log/slog"

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
