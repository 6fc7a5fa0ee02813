package opa_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// user is a component that uses other components from its Connect, as a job
// queue on another component's database does: it asks for each of asks and
// records the answers. Its Connect also starts a goroutine that asks for
// "a" and "d" until it gets "d", while Startup goes on connecting d: under
// -race, the answers must not read what Startup is still writing.
type user struct {
	m       *opa.Manager
	asks    []string
	answers map[string]string
	done    chan error // the goroutine's result
}

func (u *user) BindManager(m *opa.Manager) { u.m = m }

func (u *user) Connect(context.Context) error {
	for _, name := range u.asks {
		v, err := u.m.Instance(name)
		if err != nil {
			u.answers[name] = "error: " + err.Error()
			continue
		}
		u.answers[name] = "instance of " + v.(*fakeClient).ID
	}
	go func() {
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			if _, err := u.m.Instance("a"); err != nil {
				u.done <- fmt.Errorf("a, connected before c, became unavailable: %w", err)
				return
			}
			_, err := u.m.Instance("d")
			if err == nil {
				u.done <- nil
				return
			}
			if !errors.Is(err, opa.ErrState) {
				u.done <- fmt.Errorf("d while Startup connects it: want an ErrState, got %w", err)
				return
			}
			time.Sleep(time.Millisecond) // ask again, without taking a core from Startup
		}
		u.done <- errors.New("d was not connected within a minute")
	}()
	return nil
}

func (u *user) Instance() any { return &fakeClient{ID: "c"} }

// A component's Connect finds the components whose names sort before its
// own; one that sorts after it (or itself) is an error wrapping ErrState
// naming the order and both components; an unknown one is ErrNotFound, an
// unavailable one ErrUnavailable, as after Startup.
func TestComponentInstanceDuringStartup(t *testing.T) {
	c := newCalls(t)
	u := &user{asks: []string{"a", "B", "c", "d", "nope"}, answers: map[string]string{}, done: make(chan error, 1)}
	userPlugin := opa.WithPlugin("usr", opa.Plugin{Drivers: []opa.Driver{{Name: "user", New: func(opa.Options) (opa.Component, error) { return u, nil }}}})
	cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{
		"a": comp("yes", "fake", "a"),
		"b": comp("auto", "fake", "b", "connect", "unavailable"),
		"c": {Load: "yes", Driver: "user"},
		"d": comp("yes", "fake", "d"),
	}}
	m, err := startMgr(t, cfg, nil, driverPlugin(c), userPlugin)
	require.NoError(t, err)

	assert.Equal(t, "instance of a", u.answers["a"], "a sorts before c: connected already")
	assert.Contains(t, u.answers["B"], "opa: service unavailable", "b sorts before c, and is unavailable")
	assert.Equal(t, "error: opa: wrong state: component c is not connected yet: Startup is connecting it now", u.answers["c"])
	assert.Equal(t, "error: opa: wrong state: component d is not connected yet: Startup connects the components in sorted name order, "+
		"and c, connecting now, comes before d. A component that uses another must sort after it: rename one of them", u.answers["d"])
	assert.True(t, strings.HasPrefix(u.answers["nope"], "error: opa: not found: Component \"nope\" is not defined"), u.answers["nope"])
	assert.Contains(t, u.answers["nope"], "Defined components are: [a b c d]")

	select {
	case err := <-u.done:
		require.NoError(t, err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the goroutine asking for d did not finish")
	}
	for _, name := range []string{"a", "c", "d"} {
		_, err := m.Instance(name)
		assert.NoError(t, err, "after Startup: %s", name)
	}
}
