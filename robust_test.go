package opa_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// waitFor is how long a test waits for an event before it fails.
const waitFor = 30 * time.Second

func TestZeroManagerDoesNotPanic(t *testing.T) {
	var m opa.Manager
	assert.Equal(t, opa.Report{}, m.Report(), "a zero Manager has an empty report")
	assert.ErrorIs(t, m.StartupSimple(context.Background()), opa.ErrState, "New is the only constructor")
	assert.ErrorContains(t, m.StartupSimple(context.Background()), "not made with New")
	assert.ErrorIs(t, m.Shutdown(context.Background()), opa.ErrState)
	_, err := m.Component("x")
	assert.ErrorIs(t, err, opa.ErrState)
	_, err = m.CallHook("x")
	assert.ErrorIs(t, err, opa.ErrState)
}

// gate is a component whose first Connect (of all gates) says so on entered
// and waits for release; later ones return at once. It counts connects and
// closes.
type gate struct{ g *gates }

type gates struct {
	started          atomic.Bool
	entered, release chan struct{}
	connects, closes atomic.Int32
}

func (c gate) Connect(context.Context) error {
	c.g.connects.Add(1)
	if c.g.started.CompareAndSwap(false, true) {
		close(c.g.entered)
		<-c.g.release
	}
	return nil
}
func (c gate) Instance() any               { return nil }
func (c gate) Close(context.Context) error { c.g.closes.Add(1); return nil }

// Run with -race: two package-level Startups at once.
func TestPackageStartupConcurrent(t *testing.T) {
	opa.SetDefault(nil)
	t.Cleanup(func() { opa.SetDefault(nil) })
	g := &gates{entered: make(chan struct{}), release: make(chan struct{})}
	cfg := opa.Config{DefaultPluginPath: t.TempDir(), OptionalComponents: map[string]opa.ComponentConfig{"g": {Load: "yes", Driver: "gate"}}}
	opts := []opa.Option{opa.WithConfig(cfg), opa.WithLogger(quietLog()), opa.WithPlugin("drv", opa.Plugin{
		Drivers: []opa.Driver{{Name: "gate", New: func(opa.Options) (opa.Component, error) { return gate{g}, nil }}},
	})}

	first := make(chan error, 1)
	go func() { first <- opa.StartupSimple(opts...) }()
	select {
	case <-g.entered:
	case <-time.After(waitFor):
		t.Fatal("the first Startup never reached its component's Connect")
	}
	second := opa.StartupSimple(opts...) // while the first is connecting
	close(g.release)
	select {
	case err := <-first:
		require.NoError(t, err, "the first Startup starts")
	case <-time.After(waitFor):
		t.Fatal("the first Startup did not return")
	}
	assert.ErrorIs(t, second, opa.ErrState, "the second gets an error wrapping ErrState")
	assert.Equal(t, int32(1), g.connects.Load(), "exactly one Startup connected components")
	require.NoError(t, opa.Shutdown(context.Background()))
	assert.Equal(t, int32(1), g.closes.Load(), "and its components are the ones shut down")
}

// blockingCloser's Close records itself and, for the one named block, waits
// for release, ignoring its ctx.
type blockingCloser struct {
	name    string
	block   string
	closing chan struct{}
	release chan struct{}
	calls   *calls
}

func (c *blockingCloser) Connect(context.Context) error { return nil }
func (c *blockingCloser) Instance() any                 { return nil }
func (c *blockingCloser) Close(context.Context) error {
	c.calls.add("close:" + c.name)
	if c.name == c.block {
		close(c.closing)
		<-c.release
	}
	return nil
}

func TestShutdownReturnsWhenItsContextEnds(t *testing.T) {
	c := newCalls(t)
	closing, release := make(chan struct{}), make(chan struct{})
	drv := opa.WithPlugin("drv", opa.Plugin{Drivers: []opa.Driver{{Name: "bc", New: func(o opa.Options) (opa.Component, error) {
		return &blockingCloser{name: o["id"].(string), block: "c", closing: closing, release: release, calls: c}, nil
	}}}})
	cfg := opa.Config{ComponentTimeout: time.Hour, OptionalComponents: map[string]opa.ComponentConfig{}}
	for _, n := range []string{"a", "b", "c"} {
		cfg.OptionalComponents[n] = opa.ComponentConfig{Load: "yes", Driver: "bc", Opts: opa.Options{"id": n}}
	}
	m, err := startMgr(t, cfg, nil, drv)
	require.NoError(t, err)
	t.Cleanup(func() { // before the Manager's own cleanup, which may wait for c
		select {
		case <-release:
		default:
			close(release)
		}
	})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Shutdown(ctx) }()
	select {
	case <-closing:
	case <-time.After(waitFor):
		t.Fatal("Shutdown never closed component c")
	}
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled, "Shutdown returns ctx's error when ctx ends first")
	case <-time.After(waitFor):
		t.Fatal("Shutdown did not return when its ctx ended (it waits for COMPONENT_TIMEOUT)")
	}
	close(release)
	require.Eventually(t, func() bool { return len(c.get()) == 3 }, waitFor, time.Millisecond,
		"the other components still get their chance to close; closed so far: %v", c.get())
	assert.Equal(t, []string{"close:c", "close:b", "close:a"}, c.get())
}

// panicky's Instance and Util panic.
type panicky struct{}

func (panicky) Connect(context.Context) error { return nil }
func (panicky) Instance() any                 { panic("instance blew up") }
func (panicky) Util() any                     { panic("util blew up") }

func TestComponentInstancePanicIsAnError(t *testing.T) {
	drv := opa.WithPlugin("drv", opa.Plugin{Drivers: []opa.Driver{{Name: "p", New: func(opa.Options) (opa.Component, error) { return panicky{}, nil }}}})
	m, err := startMgr(t, opa.Config{OptionalComponents: map[string]opa.ComponentConfig{"x": {Load: "yes", Driver: "p"}}}, nil, drv)
	require.NoError(t, err)
	_, err = m.Instance("x")
	var pe *opa.PanicError
	require.ErrorAs(t, err, &pe)
	assert.ErrorContains(t, err, "opa: component x: Instance: panicked: instance blew up")
	_, err = m.Util("x")
	assert.ErrorContains(t, err, "opa: component x: Util: panicked: util blew up")
}
