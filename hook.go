package opa

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"

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
	lastErr  bool // the last result is an error
}

// hookDef is a registered definition and the plugin that gave it.
type hookDef struct {
	HookDefinition
	plugin     string
	typ        reflect.Type    // nil: any func
	candidates []HookCandidate // the hooks registered for it, in order (Winner unset); none: unused
	winner     int             // the index in candidates of the winner
}

// hookTable is the resolved hooks of a started Manager; it never changes
// after Startup, so calls need no lock.
type hookTable struct {
	defs    map[string]*hookDef
	winners map[string]*hookEntry
	// cache finds the winner of a name without hashing all of it (see find).
	cache [hookCacheSize]atomic.Pointer[hookCacheSlot]
}

// hookCacheSize is the number of slots of a hookTable's cache: enough that
// the names a host calls by literal rarely share one.
const hookCacheSize = 256

// hookCacheSlot remembers the winner found for one name: a copy of the name,
// owned by the slot, and the entry. It never changes once stored.
type hookCacheSlot struct {
	name  string
	entry *hookEntry
}

var errorType = reflect.TypeFor[error]()

// buildHooks registers every hook definition of every plugin, then every
// hook, then picks each name's winner (highest Order; on a tie the last
// registered) and checks that required definitions have a hook. Errors of one
// kind are collected and returned together.
func buildHooks(plugins []*loaded) (*hookTable, error) {
	t := &hookTable{defs: map[string]*hookDef{}, winners: map[string]*hookEntry{}}
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
			if err := t.add(lp, h); err != nil {
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

func (t *hookTable) define(lp *loaded, d HookDefinition) error {
	perr := func(format string, args ...any) error {
		return &PluginError{Plugin: lp.name, Path: lp.match, Step: "hooks", Err: fmt.Errorf(format, args...)}
	}
	if d.Name == "" {
		return perr("a hook definition has no Name")
	}
	if prev, dup := t.defs[d.Name]; dup {
		return perr("There can only be 1 hook-definition per hook-name. %q is already registered (by plugin %s)", d.Name, prev.plugin)
	}
	def := &hookDef{HookDefinition: d, plugin: lp.name}
	if d.Func != nil {
		def.typ = reflect.TypeOf(d.Func)
		if def.typ.Kind() != reflect.Func {
			return perr("hook definition %q: Func must be a typed nil func such as (func(string) string)(nil), got %s", d.Name, def.typ)
		}
	}
	t.defs[d.Name] = def
	return nil
}

func (t *hookTable) add(lp *loaded, h Hook) error {
	perr := func(format string, args ...any) error {
		return &PluginError{Plugin: lp.name, Path: lp.match, Step: "hooks", Err: fmt.Errorf(format, args...)}
	}
	def, ok := t.defs[h.Name]
	if !ok {
		return perr("There are no hook-definition for hook %q, are you using the correct name?", h.Name)
	}
	val := reflect.ValueOf(h.Func)
	if h.Func == nil || val.Kind() != reflect.Func || val.IsNil() {
		return perr("hook %q: Func must be a non-nil func, got %T", h.Name, h.Func)
	}
	if def.typ != nil && val.Type() != def.typ {
		// A func literal of the definition's underlying type is accepted and
		// converted, so HookFunc[DefinitionType] finds it.
		if !val.Type().AssignableTo(def.typ) {
			return perr("hook %q has type %s, but its definition (plugin %s) wants %s", h.Name, val.Type(), def.plugin, def.typ)
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
	e := &hookEntry{name: name, plugin: plugin, order: order, fn: val.Interface(), val: val, variadic: typ.IsVariadic()}
	for i := range typ.NumIn() {
		e.in = append(e.in, typ.In(i))
	}
	e.lastErr = typ.NumOut() > 0 && typ.Out(typ.NumOut()-1) == errorType
	return e
}

func (t *hookTable) checkRequired() error {
	var missing, by []string
	for _, name := range slices.Sorted(maps.Keys(t.defs)) {
		if d := t.defs[name]; d.Required && len(d.candidates) == 0 {
			missing = append(missing, name)
			by = append(by, fmt.Sprintf("%s (defined by plugin %s)", name, d.plugin))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("opa: Hooks that should be registered: [%s]: %s; load a plugin that provides them, or check the filters",
			strings.Join(missing, " "), strings.Join(by, ", "))
	}
	return nil
}

// find returns the winning hook of a name, or nil. It is the hot path of
// CallHook and HookFunc, called with the same few names on every request, so
// it first looks in a small cache that needs no hashing of the whole name:
// a slot is chosen from the name's length and two of its bytes, and holds
// its own copy of the name it was filled with, compared in full before the
// slot is trusted. So any string finds the right hook, also one whose bytes
// are later reused (a name made with unsafe.String over a buffer). Each
// slot is filled once, by the first name found that lands there (of the two
// slots a name may use), and never changes afterwards; a name that finds no
// slot of its own goes through the map. Reads and the compare-and-swap that
// fills a slot are atomic, so find is safe from many goroutines without a
// lock.
func (t *hookTable) find(name string) *hookEntry {
	if e := t.cached(name); e != nil {
		return e
	}
	return t.findSlow(name, hookCacheIndex(name))
}

// cached is the first probe of find, small enough to be inlined into
// HookFuncOf: the entry in name's first slot if that slot holds name.
func (t *hookTable) cached(name string) *hookEntry {
	if s := t.cache[hookCacheIndex(name)].Load(); s != nil && s.name == name {
		return s.entry
	}
	return nil
}

// hookCacheIndex picks the first cache slot of a name from its length and
// its first and last bytes (Fibonacci hashing of those).
func hookCacheIndex(name string) uintptr {
	n := len(name)
	if n == 0 {
		return 0
	}
	return uintptr((uint64(n)|uint64(name[0])<<16|uint64(name[n-1])<<24)*0x9E3779B97F4A7C15>>56) % hookCacheSize
}

// findSlow tries the slot after the first, then the map; a hook's name found
// in the map is remembered, as a copy, in the first of its two slots that is
// empty.
func (t *hookTable) findSlow(name string, i uintptr) *hookEntry {
	j := (i + 1) % hookCacheSize
	if s := t.cache[j].Load(); s != nil && s.name == name {
		return s.entry
	}
	e := t.winners[name]
	if e == nil {
		return nil
	}
	for _, k := range [2]uintptr{i, j} {
		if t.cache[k].Load() == nil && t.cache[k].CompareAndSwap(nil, &hookCacheSlot{name: strings.Clone(name), entry: e}) {
			break
		}
	}
	return e
}

// lookup finds the winning hook of a name, or says why there is none.
func (t *hookTable) lookup(name string) (*hookEntry, error) {
	if e := t.find(name); e != nil {
		return e, nil
	}
	if d, ok := t.defs[name]; ok {
		return nil, fmt.Errorf("%w: hook %q is defined by plugin %s but no loaded plugin implements it", ErrNotFound, name, d.plugin)
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
		hr := HookReport{Name: name, DefinedBy: d.plugin, Required: d.Required}
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
