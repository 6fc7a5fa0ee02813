package opa

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Component states, as the report shows them.
const (
	StateConnected   = "connected"   // Connect (and Validate) succeeded
	StateUnavailable = "unavailable" // LOAD=auto and the service was not there
	StateDisabled    = "disabled"    // LOAD=no: never built
	StateClosed      = "closed"      // connected, then closed again when a later step failed Startup
	stateFailed      = "failed"      // New, Connect or Validate failed Startup
)

// component is one entry of OPTIONAL_COMPONENTS and what became of it.
type component struct {
	name   string
	cfg    ComponentConfig
	load   string
	plugin string // the plugin whose driver built it
	comp   Component
	state  string
	err    error // why it is unavailable
	// asking is set while a Status call of the report runs (see status):
	// one at a time, so a Status that ignores its context cannot pile up.
	asking *atomic.Bool
}

// label names a component, its driver and, once known, the driver's plugin.
func (c *component) label() string {
	if c.plugin == "" {
		return fmt.Sprintf("component %s (driver %s)", c.name, c.cfg.Driver)
	}
	return fmt.Sprintf("component %s (driver %s, plugin %s)", c.name, c.cfg.Driver, c.plugin)
}

// driverEntry is a registered driver and the plugin that gave it.
type driverEntry struct {
	Driver
	plugin string
}

// buildDrivers registers the drivers of every loaded plugin, by lower-case
// name. Two drivers with one name (in any case) are an error naming both
// plugins, even if they are the same Driver value: list a driver in one
// plugin only.
func buildDrivers(plugins []*loaded) (map[string]driverEntry, error) {
	drivers := map[string]driverEntry{}
	var errs []error
	for _, lp := range plugins {
		for _, d := range lp.plugin.Drivers {
			name := strings.ToLower(d.Name)
			perr := func(format string, args ...any) {
				errs = append(errs, &PluginError{Plugin: lp.name, Path: lp.match, Step: "drivers", Err: fmt.Errorf(format, args...)})
			}
			switch prev, dup := drivers[name]; {
			case name == "":
				perr("a driver has no Name")
			case d.New == nil:
				perr("driver %q has no New func", d.Name)
			case dup:
				perr("Driver with this name (%s) already exists (from plugin %s). CaSe of driver is ignored.", name, prev.plugin)
			default:
				drivers[name] = driverEntry{Driver: d, plugin: lp.name}
			}
		}
	}
	return drivers, errors.Join(errs...)
}

// connectComponents builds and connects every optional component in sorted
// name order, following LOAD, into st.components. Each connected component
// is appended to st.connected as soon as it is, so a failure later can close
// it. Before each one, the Manager starts serving the components done so far
// (see publishConnecting).
func (m *Manager) connectComponents(ctx context.Context, drivers map[string]driverEntry, st *state) error {
	all := st.components
	for _, name := range componentNames(m.cfg.OptionalComponents) {
		cc := m.cfg.OptionalComponents[name]
		load, _ := normalizeLoad(cc.Load) // checked by Config.validate
		c := &component{name: strings.ToLower(name), cfg: cc, load: load, asking: new(atomic.Bool)}
		m.publishConnecting(st, c.name)
		all[c.name] = c
		if load == "no" {
			c.state = StateDisabled
			m.log.Info("opa: component disabled (LOAD=no)", "component", c.name)
			continue
		}
		err := m.connectOne(ctx, drivers, c)
		if err == nil && c.state == StateConnected {
			var late <-chan error
			if late, err = m.validateOne(ctx, c); late != nil {
				go m.closeLate(c, late, "validate")
			} else {
				st.connected = append(st.connected, c)
			}
		}
		if err == nil {
			continue
		}
		c.state = stateFailed
		// The driver's text is scrubbed on its own first: where a short
		// secret forces it to be hidden, the label stays.
		err = m.red.wrap(fmt.Errorf("opa: %s: %w", c.label(), m.red.wrap(err)))
		if _, panicked := errors.AsType[*PanicError](err); panicked && m.skipping() {
			// A driver that panics is a broken plugin: PLUGIN_ON_ERROR=skip
			// leaves the component failed and goes on.
			c.err = err
			m.log.Warn("opa: component failed, going on without it (PLUGIN_ON_ERROR=skip)", "component", c.name, "error", err)
			continue
		}
		return err
	}
	return nil
}

// publishConnecting makes the Manager serve, while Startup connects
// component next, the components before it: copies of them, as Startup goes
// on changing its own (a component's Connect may run on after a timeout,
// and ask then).
func (m *Manager) publishConnecting(st *state, next string) {
	done := make(map[string]*component, len(st.components))
	for name, c := range st.components {
		cp := *c
		done[name] = &cp
	}
	m.setState(&state{plugins: st.plugins, hooks: st.hooks, components: done, serving: servingConnecting, connecting: next})
}

// componentNames returns the configured component names in connect order:
// sorted by lower-case name, as names are case-insensitive.
func componentNames(comps map[string]ComponentConfig) []string {
	return slices.SortedFunc(maps.Keys(comps), func(a, b string) int {
		return strings.Compare(strings.ToLower(a), strings.ToLower(b))
	})
}

func (m *Manager) connectOne(ctx context.Context, drivers map[string]driverEntry, c *component) error {
	d, ok := drivers[strings.ToLower(c.cfg.Driver)]
	if !ok {
		return fmt.Errorf("%w: Invalid driver specified (%s), no way to handle it; drivers of the loaded plugins: [%s]",
			ErrNotFound, c.cfg.Driver, strings.Join(slices.Sorted(maps.Keys(drivers)), " "))
	}
	c.plugin = d.plugin
	if err := checkOpts(c.name, c.cfg.Opts, d.Opts); err != nil {
		return err
	}
	m.log.Info("opa: connecting component", "component", c.name, "driver", d.Name, "plugin", d.plugin, "load", c.load, "opts", m.red.options(c.cfg.Opts))
	err := guard(ctx, m.cfg.componentTimeout(), "new", func(context.Context) error {
		comp, err := d.New(c.cfg.Opts)
		if err == nil && comp == nil {
			err = errors.New("New returned a nil Component")
		}
		c.comp = comp
		return err
	})
	if err != nil {
		return err
	}
	if b, ok := c.comp.(ManagerBinder); ok {
		if err := guard(ctx, m.cfg.componentTimeout(), "bind", func(context.Context) error { b.BindManager(m); return nil }); err != nil {
			return err
		}
	}
	late, err := guardLate(ctx, m.cfg.componentTimeout(), "COMPONENT_TIMEOUT", "connect", c.comp.Connect)
	if late != nil {
		go m.closeLate(c, late, "connect") // a Connect that succeeds late is not left open
	}
	switch {
	case err == nil:
		c.state = StateConnected
		m.log.Info("opa: component connected", "component", c.name)
		return nil
	case errors.Is(err, ErrUnavailable) && c.load == "auto":
		c.state, c.err = StateUnavailable, m.red.wrap(err)
		m.log.Warn("opa: component unavailable (LOAD=auto), going on without it", "component", c.name, "error", c.err)
		return nil
	case errors.Is(err, ErrUnavailable):
		// The wording is opa-stack's, kept so users find it; the message
		// reaches them behind "opa: component NAME ...".
		//lint:ignore ST1005 opa-stack's own error text, kept word for word
		return fmt.Errorf("Connect pre-check failed for %s, as if the host is not there (LOAD=yes): %w", d.Name, err)
	default:
		return err
	}
}

// validateOne runs c's Validate, if it has one. When Startup stops waiting
// for it, it also returns where its result arrives: the component is then
// closed after Validate returns, not by Startup's rollback while Validate
// runs.
func (m *Manager) validateOne(ctx context.Context, c *component) (late <-chan error, err error) {
	v, ok := c.comp.(Validator)
	if !ok {
		return nil, nil
	}
	return guardLate(ctx, m.cfg.componentTimeout(), "COMPONENT_TIMEOUT", "validate", v.Validate)
}

// closeComponents closes connected components in reverse order, each under
// its own deadline, keeps going after an error and joins the errors.
func (m *Manager) closeComponents(ctx context.Context, connected []*component) error {
	var errs []error
	for _, c := range slices.Backward(connected) {
		cl, ok := c.comp.(Closer)
		if !ok {
			continue
		}
		if err := guard(context.WithoutCancel(ctx), m.cfg.componentTimeout(), "close", cl.Close); err != nil {
			errs = append(errs, m.red.wrap(fmt.Errorf("opa: %s: %w", c.label(), m.red.wrap(err))))
			m.log.Error("opa: component close failed", "component", c.name, "error", errs[len(errs)-1])
			continue
		}
		m.log.Info("opa: component closed", "component", c.name)
	}
	return errors.Join(errs...)
}

// guard runs fn under a deadline of timeout and returns its error, or a
// panic turned into an error, prefixed with the step. If fn ignores its
// context and does not return in time, guard stops waiting and returns an
// error; fn's goroutine is left to finish on its own.
func guard(ctx context.Context, timeout time.Duration, step string, fn func(context.Context) error) error {
	return guardBy(ctx, timeout, "COMPONENT_TIMEOUT", step, fn)
}

// guardBy is guard whose errors name limit as the setting that bounds fn.
func guardBy(parent context.Context, timeout time.Duration, limit, step string, fn func(context.Context) error) error {
	_, err := guardLate(parent, timeout, limit, step, fn)
	return err
}

// guardLate is guardBy that also returns, when it stopped waiting for fn,
// where fn's own result arrives once it returns (nil when fn returned in
// time): a caller that must undo what a late fn did (close a component
// whose Connect succeeded after all) reads it.
func guardLate(parent context.Context, timeout time.Duration, limit, step string, fn func(context.Context) error) (late <-chan error, err error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- &PanicError{Value: v}
			}
		}()
		done <- fn(ctx)
	}()
	returned := func(err error) error {
		switch {
		case err == nil:
			return nil
		case parent.Err() != nil && !errors.Is(err, ErrUnavailable):
			return fmt.Errorf("%s: stopped: the caller's context ended: %w", step, err)
		case ctx.Err() != nil && !errors.Is(err, ErrUnavailable):
			return fmt.Errorf("%s: did not finish within %s (%s): %w", step, timeout, limit, err)
		}
		return fmt.Errorf("%s: %w", step, err)
	}
	select {
	case err := <-done:
		return nil, returned(err)
	case <-ctx.Done():
		select {
		case err := <-done: // returned as the deadline came: select picks either
			return nil, returned(err)
		default:
		}
		if parent.Err() != nil { // the caller's context, not the timeout
			return done, fmt.Errorf("%s: stopped waiting: the caller's context ended: %w", step, context.Cause(parent))
		}
		return done, fmt.Errorf("%s: did not return within %s (%s): %w", step, timeout, limit, ctx.Err())
	}
}

// closeLate closes component c once the Connect or Validate that Startup
// stopped waiting for returns on late: after a Connect only if it
// succeeded, after a Validate always (the component was connected). Close
// never runs while that call still does.
func (m *Manager) closeLate(c *component, late <-chan error, step string) {
	if err := <-late; step == "connect" && err != nil {
		return
	}
	_ = m.closeComponents(context.Background(), []*component{c}) // logs the outcome
}

// Component returns the named component (case-insensitive). An unknown name
// gives an error wrapping ErrNotFound that lists the defined components; a
// component that is unavailable or disabled gives an error wrapping
// ErrUnavailable that lists them too.
//
// While Startup connects the components, in sorted name order, it answers
// for those already done, so that a component's Connect may use one whose
// name sorts before its own; one not connected yet is an error wrapping
// ErrState that says so and names both.
func (m *Manager) Component(name string) (Component, error) {
	st, err := m.started()
	if err != nil {
		return nil, err
	}
	if st.serving == servingHooks {
		return nil, fmt.Errorf("%w: components are not connected yet (Startup is connecting them)", ErrState)
	}
	lname := strings.ToLower(name)
	c, ok := st.components[lname]
	if ok && c.state == StateConnected { // the path of every request: no allocation
		return c.comp, nil
	}
	var defined []string
	for _, n := range componentNames(m.cfg.OptionalComponents) {
		defined = append(defined, strings.ToLower(n))
	}
	switch {
	case !ok && !slices.Contains(defined, lname):
		return nil, fmt.Errorf("%w: Component %q is not defined (yet?)%s. Defined components are: [%s]",
			ErrNotFound, name, didYouMean(lname, defined), strings.Join(defined, " "))
	case !ok && lname == st.connecting:
		return nil, fmt.Errorf("%w: component %s is not connected yet: Startup is connecting it now", ErrState, lname)
	case !ok:
		return nil, fmt.Errorf("%w: component %s is not connected yet: Startup connects the components in sorted name order, and %s, connecting now, comes before %s. "+
			"A component that uses another must sort after it: rename one of them", ErrState, lname, st.connecting, lname)
	}
	switch c.state {
	case StateDisabled:
		return nil, fmt.Errorf("%w: component %s is disabled (LOAD=no). Defined components are: [%s]",
			ErrUnavailable, c.name, strings.Join(defined, " "))
	default:
		return nil, fmt.Errorf("component %s: %w. Defined components are: [%s]", c.name, c.err, strings.Join(defined, " "))
	}
}

// Instance returns the Instance of the named component; see Component for
// the errors. A panic in the component's Instance method is an error
// wrapping a *PanicError.
func (m *Manager) Instance(name string) (any, error) {
	c, err := m.Component(name)
	if err != nil {
		return nil, err
	}
	return callComponent(name, "Instance", c.Instance)
}

// callComponent calls a component's Instance or Util method, turning a
// panic in the plugin's code into an error naming the component.
func callComponent(name, method string, fn func() any) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("opa: component %s: %s: %w", name, method, &PanicError{Value: p})
		}
	}()
	return fn(), nil
}

// InstanceOf returns the Instance of the named component of m as a T; an
// instance of another type is an error naming both types.
func InstanceOf[T any](m *Manager, name string) (T, error) {
	var zero T
	v, err := m.Instance(name)
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("opa: component %s: its instance is %T, not %s", name, v, reflect.TypeFor[T]())
	}
	return t, nil
}

// Util returns the Util of the named component; a component whose type has
// no Util method is an error wrapping ErrNotFound.
func (m *Manager) Util(name string) (any, error) {
	c, err := m.Component(name)
	if err != nil {
		return nil, err
	}
	u, ok := c.(Utiler)
	if !ok {
		return nil, fmt.Errorf("%w: component %s has no Util (its type %T has no Util() method)", ErrNotFound, name, c)
	}
	return callComponent(name, "Util", u.Util)
}
