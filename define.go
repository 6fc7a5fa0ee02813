package opa

import (
	"fmt"
	"slices"
	"sync"
)

// hostHooks holds the hook definitions given to DefineHook.
var hostHooks = struct {
	sync.Mutex
	defs []HookDefinition
}{}

// DefineHook declares a hook that belongs to the host, not to a plugin:
// plugins implement it, the host calls it (CallHook, HookRef). No filter
// applies to it, and the report shows it as defined by the host. A Required
// definition that no loaded plugin implements fails Startup, naming it.
//
// Call it before the package-level Startup, from init or main; it applies to
// every Manager made afterwards, as Register does (WithHooks gives
// definitions to one Manager). It panics if def has no Name, if its Func is
// not a func, if the name is already defined, or after Startup: while the
// package-level Startup (StartupSimple, StartupContext) runs or the default
// Manager is started, when the definition could not apply. These are
// mistakes in the host's code.
func DefineHook(def HookDefinition) {
	if err := checkHookDefinition(def); err != nil {
		panic(fmt.Sprintf("opa: DefineHook: %v", err))
	}
	hostHooks.Lock()
	defer hostHooks.Unlock()
	if defaultStarting.Load() || defaultStarted() {
		panic(fmt.Sprintf("opa: DefineHook(%q) called after opa.Startup: define the host's hooks before it", def.Name))
	}
	if slices.ContainsFunc(hostHooks.defs, func(d HookDefinition) bool { return d.Name == def.Name }) {
		panic(fmt.Sprintf("opa: DefineHook(%q): a hook of this name is already defined", def.Name))
	}
	hostHooks.defs = append(hostHooks.defs, def)
}

// WithHooks gives a Manager hook definitions of the host's own, as
// DefineHook does for every Manager: no filter applies to them, and the
// report shows them as defined by the host. New returns an error for a
// definition without a Name, with a Func that is not a func, or with a name
// defined twice (here or by DefineHook).
func WithHooks(defs ...HookDefinition) Option {
	return func(s *options) { s.hooks = append(s.hooks, defs...) }
}

// defaultStarted reports whether the default Manager serves: started, or
// far enough in its Startup.
func defaultStarted() bool {
	m := defaultManager.Load()
	return m != nil && m.st.Load() != nil
}

// hostDefinitions returns the definitions of DefineHook followed by those
// given to WithHooks, checked.
func hostDefinitions(with []HookDefinition) ([]HookDefinition, error) {
	hostHooks.Lock()
	defs := slices.Clone(hostHooks.defs)
	hostHooks.Unlock()
	for _, d := range with {
		if err := checkHookDefinition(d); err != nil {
			return nil, fmt.Errorf("opa: WithHooks: %w", err)
		}
		if slices.ContainsFunc(defs, func(p HookDefinition) bool { return p.Name == d.Name }) {
			return nil, fmt.Errorf("opa: WithHooks: hook %q is defined twice (by WithHooks or DefineHook)", d.Name)
		}
		defs = append(defs, d)
	}
	return defs, nil
}
