package opa_test

import (
	"context"
	"log/slog"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
	"github.com/spf13/viper"
)

// The public names and signatures that hosts, plugins and outside checks
// compile against (the specification's api.md). This file fails to compile if
// one of them changes.
var (
	_ func(string, opa.Plugin, ...string)                     = opa.Register
	_ func(chi.Router, ...opa.Option) error                   = opa.Startup
	_ func(...opa.Option) error                               = opa.StartupSimple
	_ func(context.Context) error                             = opa.Shutdown
	_ func(string, ...any) ([]any, error)                     = opa.CallHook
	_ func(string) (func(string) string, error)               = opa.HookFunc[func(string) string]
	_ func(string) (opa.Component, error)                     = opa.GetComponent
	_ func(string) (any, error)                               = opa.GetInstance
	_ func(string) (*int, error)                              = opa.Instance[*int]
	_ func(string) (any, error)                               = opa.GetUtil
	_ func() *opa.Manager                                     = opa.GetManager
	_ func() chi.Router                                       = opa.GetRouter
	_ func(...opa.Option) (*opa.Manager, error)               = opa.New
	_ func(*opa.Manager, context.Context, chi.Router) error   = (*opa.Manager).Startup
	_ func(*opa.Manager, context.Context) error               = (*opa.Manager).StartupSimple
	_ func(*opa.Manager, context.Context) error               = (*opa.Manager).Shutdown
	_ func(*opa.Manager, string, ...any) ([]any, error)       = (*opa.Manager).CallHook
	_ func(*opa.Manager, string) (opa.Component, error)       = (*opa.Manager).Component
	_ func(*opa.Manager) opa.Report                           = (*opa.Manager).Report
	_ func(*opa.Manager) []opa.Task                           = (*opa.Manager).Tasks
	_ func(*opa.Manager) []string                             = (*opa.Manager).TaskCandidates
	_ func(opa.Config) opa.Option                             = opa.WithConfig
	_ func(*viper.Viper) opa.Option                           = opa.WithViper
	_ func(*slog.Logger) opa.Option                           = opa.WithLogger
	_ func(*viper.Viper) (opa.Config, error)                  = opa.LoadConfig
	_ func(string, func(context.Context, int) error) opa.Task = opa.NewTask[int]
	_ error                                                   = opa.ErrUnavailable
	_ error                                                   = opa.ErrNotFound

	_ = opa.Plugin{HookDefinitions: []opa.HookDefinition{{Name: "", Required: true, Func: nil}},
		Hooks: []opa.Hook{{Name: "", Order: 0, Func: nil}}, Drivers: []opa.Driver{{Name: "", New: func(opa.Options) (opa.Component, error) { return nil, nil }}},
		Setups: []opa.Setup{func(context.Context, chi.Router) error { return nil }}, Router: chi.NewRouter(), Tasks: []opa.Task{{Kind: "", Run: nil}}}
	_ = opa.Config{PluginPaths: nil, DefaultPluginPath: "", WhitelistList: nil, WhitelistRE: "", WhitelistTags: nil,
		BlacklistList: nil, BlacklistRE: "", BlacklistTags: nil, OptionalComponents: map[string]opa.ComponentConfig{"x": {Load: "", Driver: "", Opts: opa.Options{}}}}
	_ = opa.PluginReport{Name: "", Path: "", Tags: nil, Loaded: false, Reason: ""}
	_ = opa.Report{Plugins: []opa.PluginReport{}}

	// Added in round 3.
	_ func(opa.HookDefinition)                                                = opa.DefineHook
	_ func(...opa.HookDefinition) opa.Option                                  = opa.WithHooks
	_ func(string) *opa.HookHandle[func(string) string]                       = opa.HookRef[func(string) string]
	_ func(*opa.HookHandle[func(string) string]) (func(string) string, error) = (*opa.HookHandle[func(string) string]).Func
	_ func(context.Context, chi.Router, ...opa.Option) error                  = opa.StartupContext
)
