package opa

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go/internal/suggest"
)

// HookDefinition declares a hook: its name, whether Startup needs a plugin to
// provide it, and the function type every hook of that name must have.
type HookDefinition struct {
	Name     string
	Required bool // Startup fails when no loaded plugin provides a hook for it
	// Func is a typed nil func, e.g. (func(context.Context, string) (string, error))(nil):
	// the type every hook of this name must have. Nil accepts any func.
	Func any
}

// Hook implements a hook definition.
type Hook struct {
	Name  string
	Order int // the highest Order wins; on a tie the hook registered last wins
	Func  any // the implementation, a func
}

// hookEntry is the winning hook of a name, ready to call.
type hookEntry struct {
	name     string
	plugin   string
	order    int
	fn       any           // the func, converted to its definition's type
	val      reflect.Value // fn, for CallHook
	in       []reflect.Type
	variadic bool
	elem     reflect.Type // of a variadic hook, the type of its variadic arguments
	lastErr  bool         // the last result is an error
	stats    *hookStats   // CallHook's counters, apart from what HookFunc reads
}

// hookDef is a registered definition and the plugin that gave it, or the
// host (DefineHook, WithHooks).
type hookDef struct {
	HookDefinition
	plugin     string // empty when host is set
	host       bool
	typ        reflect.Type    // nil: any func
	candidates []HookCandidate // the hooks registered for it, in order (Winner unset); none: unused
	winner     int             // the index in candidates of the winner
}

// hookTable is the resolved hooks of a started Manager. It is built once,
// by buildHooks, and never changes afterwards (chi-style: immutable after
// setup), so calls read its maps from many goroutines without a lock.
type hookTable struct {
	defs    map[string]*hookDef
	winners map[string]*hookEntry
}

var errorType = reflect.TypeFor[error]()

// buildHooks registers the host's hook definitions, then every hook
// definition of every plugin, then every hook, then picks each name's winner
// (highest Order; on a tie the last registered) and checks that required
// definitions have a hook. Errors of one kind are collected and returned
// together. leftOut are the plugins that were found but not loaded, so that
// a hook whose definition is in one of them is explained.
func buildHooks(host []HookDefinition, plugins []*loaded, leftOut []leftOutPlugin) (*hookTable, error) {
	t := &hookTable{defs: map[string]*hookDef{}, winners: map[string]*hookEntry{}}
	for _, d := range host {
		// checked by DefineHook and New
		t.defs[d.Name] = &hookDef{HookDefinition: d, host: true, typ: defType(d)}
	}
	var errs []error
	for _, lp := range plugins {
		for _, d := range lp.plugin.HookDefinitions {
			if err := t.define(lp, d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, lp := range plugins {
		for _, h := range lp.plugin.Hooks {
			if err := t.add(lp, h, leftOut); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := t.checkRequired(); err != nil {
		return nil, err
	}
	return t, nil
}

// leftOutPlugin is a plugin found but not loaded (a filter, or an error
// under PLUGIN_ON_ERROR=skip): its name, why, and for a compiled-in plugin
// its hook definitions (a .so file's are unknown until it is opened).
type leftOutPlugin struct {
	name   string
	reason string
	defs   []HookDefinition
	known  bool // defs is known: the plugin is compiled in
}

// owner names who defined a hook: "plugin NAME" or "the host".
func (d *hookDef) owner() string {
	if d.host {
		return "the host"
	}
	return "plugin " + d.plugin
}

// defType is a definition's func type, nil for any func (or a Func that
// is no func, which checkHookDefinition refuses).
func defType(d HookDefinition) reflect.Type {
	if d.Func == nil {
		return nil
	}
	return reflect.TypeOf(d.Func)
}

// checkHookDefinition says what is wrong with a definition, or nil.
func checkHookDefinition(d HookDefinition) error {
	if d.Name == "" {
		return errors.New("a hook definition has no Name")
	}
	if typ := defType(d); typ != nil && typ.Kind() != reflect.Func {
		return fmt.Errorf("hook definition %q: Func must be a typed nil func such as (func(string) string)(nil), got %s", d.Name, typ)
	}
	return nil
}

func (t *hookTable) define(lp *loaded, d HookDefinition) error {
	perr := func(err error) error {
		return &PluginError{Plugin: lp.name, Path: lp.match, Step: "hooks", Err: err}
	}
	if err := checkHookDefinition(d); err != nil {
		return perr(err)
	}
	if prev, dup := t.defs[d.Name]; dup {
		return perr(fmt.Errorf("There can only be 1 hook-definition per hook-name. %q is already registered (by %s)", d.Name, prev.owner()))
	}
	t.defs[d.Name] = &hookDef{HookDefinition: d, plugin: lp.name, typ: defType(d)}
	return nil
}

// noDefinition explains a hook of plugin lp whose name has no definition:
// its definition is in a plugin that was left out (named, with why), or it
// may be (a .so file left out, whose definitions are unknown), or the name
// is a typo (with a did-you-mean, as CallHook gives).
func (t *hookTable) noDefinition(lp *loaded, name string, leftOut []leftOutPlugin) error {
	var maybe []string
	for _, o := range leftOut {
		if !o.known {
			maybe = append(maybe, fmt.Sprintf("%s (%s)", o.name, o.reason))
			continue
		}
		for _, d := range o.defs {
			if d.Name == name {
				return fmt.Errorf("%w: hook %q of plugin %s: its definition comes from plugin %s, which was not loaded: %s",
					ErrNotFound, name, lp.name, o.name, o.reason)
			}
		}
	}
	defined := slices.Sorted(maps.Keys(t.defs))
	if hint := didYouMean(name, defined); hint != "" {
		return fmt.Errorf("There are no hook-definition for hook %q, are you using the correct name?%s", name, hint)
	}
	if len(maybe) > 0 {
		return fmt.Errorf("There are no hook-definition for hook %q among the loaded plugins and the host; "+
			"it may come from a plugin that was not loaded: %s", name, strings.Join(maybe, "; "))
	}
	return fmt.Errorf("There are no hook-definition for hook %q, are you using the correct name? Defined hooks: [%s]", name, strings.Join(defined, " "))
}

func (t *hookTable) add(lp *loaded, h Hook, leftOut []leftOutPlugin) error {
	perr := func(format string, args ...any) error {
		return &PluginError{Plugin: lp.name, Path: lp.match, Step: "hooks", Err: fmt.Errorf(format, args...)}
	}
	def, ok := t.defs[h.Name]
	if !ok {
		return &PluginError{Plugin: lp.name, Path: lp.match, Step: "hooks", Err: t.noDefinition(lp, h.Name, leftOut)}
	}
	val := reflect.ValueOf(h.Func)
	if h.Func == nil || val.Kind() != reflect.Func || val.IsNil() {
		return perr("hook %q: Func must be a non-nil func, got %T", h.Name, h.Func)
	}
	if def.typ != nil && val.Type() != def.typ {
		// A func literal of the definition's underlying type is accepted and
		// converted, so HookFunc[DefinitionType] finds it.
		if !val.Type().AssignableTo(def.typ) {
			return perr("hook %q has type %s, but its definition (%s) wants %s", h.Name, val.Type(), def.owner(), def.typ)
		}
		val = val.Convert(def.typ)
	}
	def.candidates = append(def.candidates, HookCandidate{Plugin: lp.name, Order: h.Order})
	if w, ok := t.winners[h.Name]; ok && h.Order < w.order {
		return nil
	}
	t.winners[h.Name] = newHookEntry(h.Name, lp.name, h.Order, val)
	def.winner = len(def.candidates) - 1
	return nil
}

func newHookEntry(name, plugin string, order int, val reflect.Value) *hookEntry {
	typ := val.Type()
	e := &hookEntry{name: name, plugin: plugin, order: order, fn: val.Interface(), val: val, variadic: typ.IsVariadic(), stats: &hookStats{}}
	for i := range typ.NumIn() {
		e.in = append(e.in, typ.In(i))
	}
	if e.variadic {
		e.elem = e.in[len(e.in)-1].Elem()
	}
	e.lastErr = typ.NumOut() > 0 && typ.Out(typ.NumOut()-1) == errorType
	return e
}

func (t *hookTable) checkRequired() error {
	var missing, by []string
	for _, name := range slices.Sorted(maps.Keys(t.defs)) {
		if d := t.defs[name]; d.Required && len(d.candidates) == 0 {
			missing = append(missing, name)
			by = append(by, fmt.Sprintf("%s (defined by %s)", name, d.owner()))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("opa: Hooks that should be registered: [%s]: %s; load a plugin that provides them, or check the filters",
			strings.Join(missing, " "), strings.Join(by, ", "))
	}
	return nil
}

// find returns the winning hook of a name, or nil.
func (t *hookTable) find(name string) *hookEntry { return t.winners[name] }

// lookup finds the winning hook of a name, or says why there is none.
func (t *hookTable) lookup(name string) (*hookEntry, error) {
	if e := t.find(name); e != nil {
		return e, nil
	}
	if d, ok := t.defs[name]; ok {
		return nil, fmt.Errorf("%w: hook %q is defined by %s but no loaded plugin implements it", ErrNotFound, name, d.owner())
	}
	defined := slices.Sorted(maps.Keys(t.defs))
	return nil, fmt.Errorf("%w: no hook named %q%s; defined hooks: [%s]", ErrNotFound, name, didYouMean(name, defined), strings.Join(defined, " "))
}

// didYouMean is ` (did you mean "x"?)` for the one of names closest to name,
// when one is near (see suggest.Closest), or else "".
func didYouMean(name string, names []string) string {
	if s, ok := suggest.Closest(name, names); ok {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

func (t *hookTable) report() []HookReport {
	var out []HookReport
	for _, name := range slices.Sorted(maps.Keys(t.defs)) {
		d := t.defs[name]
		hr := HookReport{Name: name, DefinedBy: d.plugin, Host: d.host, Required: d.Required}
		if d.host {
			hr.DefinedBy = "host"
		}
		if d.typ != nil {
			hr.Type = d.typ.String()
		}
		if w, ok := t.winners[name]; ok {
			hr.Plugin, hr.Order = w.plugin, w.order
		}
		hr.Candidates = append([]HookCandidate{}, d.candidates...)
		if len(hr.Candidates) > 0 {
			hr.Candidates[d.winner].Winner = true
		}
		out = append(out, hr)
	}
	return out
}
