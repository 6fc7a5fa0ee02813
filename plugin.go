package opa

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
)

// Plugin is what a plugin provides. A .so plugin is a package main built with
// -buildmode=plugin that exports
//
//	var Plugin = opa.Plugin{...}
//
// (plugin.Lookup("Plugin") then yields *opa.Plugin). Its name is the file
// name without ".so", or for a directory plugin (NAME/plugin.so) the
// directory name. A plugin compiled into the host is added with Register.
type Plugin struct {
	// HookDefinitions declare hooks that this or other plugins implement.
	HookDefinitions []HookDefinition
	// Hooks implement hook definitions; per name, the highest Order wins.
	Hooks []Hook
	// Drivers build the components named in OPTIONAL_COMPONENTS.
	Drivers []Driver
	// Setups run last, in plugin order, with the host router.
	Setups []Setup
	// Router is optional; its routes join the host router at their own paths
	// (no prefix is added), after the host's middleware.
	Router chi.Router
	// Tasks are background jobs that workers run (see Task).
	Tasks []Task
}

// Setup runs after every plugin's routes are mounted, in plugin order, with
// the host router. An error fails Startup; with PLUGIN_ON_ERROR=skip it is
// logged and reported on the plugin, whose routes stay, and the other
// setups run. ManagerFrom(ctx) gives the Manager, whose components and
// hooks are ready.
type Setup func(ctx context.Context, r chi.Router) error

// GetRouter returns a new router for a plugin's routes (it mirrors the
// original's get_router).
func GetRouter() chi.Router { return chi.NewRouter() }

// registered holds the plugins compiled into the host with Register.
var registered = struct {
	sync.Mutex
	byName map[string]registration
}{byName: map[string]registration{}}

type registration struct {
	plugin Plugin
	tags   []string
}

// Register adds a plugin compiled into the host; call it from an init
// function. The plugin acts as if it lived in the default plugin path: lowest
// priority, overridable by a same-named plugin in PLUGIN_PATHS, matched as
// "<default path>/NAME" and filtered like any other, with tags as its meta.json
// tags.
//
// Register panics if name is empty, holds a dot, a slash or a leading hyphen,
// or is already registered: these are mistakes in the host's code, found the
// first time it runs (as database/sql.Register does).
func Register(name string, p Plugin, tags ...string) {
	if err := checkName(name); err != nil {
		panic(fmt.Sprintf("opa: Register(%q): %v", name, err))
	}
	registered.Lock()
	defer registered.Unlock()
	if _, dup := registered.byName[name]; dup {
		panic(fmt.Sprintf("opa: Register(%q): a plugin of this name is already registered", name))
	}
	registered.byName[name] = registration{plugin: p, tags: append([]string(nil), tags...)}
}

// checkName reports why name cannot be a plugin name.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case strings.ContainsAny(name, "./\\"):
		return fmt.Errorf("a plugin name holds no dot or slash")
	case strings.HasPrefix(name, "-"):
		return fmt.Errorf("a plugin name does not start with a hyphen")
	}
	return nil
}

// registeredPlugins returns the compiled-in plugins sorted by name, as a
// directory listing would be.
func registeredPlugins() []namedRegistration {
	registered.Lock()
	defer registered.Unlock()
	out := make([]namedRegistration, 0, len(registered.byName))
	for name, r := range registered.byName {
		out = append(out, namedRegistration{name, r})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

type namedRegistration struct {
	name string
	registration
}
