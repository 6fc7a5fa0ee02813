package opa_test

import (
	"context"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
)

// slowComp is a component whose Connect says it started, on started, then
// waits for its context to end (or, with ignoreCtx, for the end of the
// test).
type slowComp struct {
	started   chan struct{}
	ignoreCtx bool
	release   <-chan struct{}
}

func (s *slowComp) Connect(ctx context.Context) error {
	close(s.started)
	if s.ignoreCtx {
		<-s.release
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}
func (s *slowComp) Instance() any { return nil }

// TestStartupContext cancels Startup's context while it waits in a slow
// step, and checks that Startup returns an error wrapping the context's,
// that what was connected is closed, and that the Manager answers nothing.
func TestStartupContext(t *testing.T) {
	cases := []struct {
		name      string
		slowComp  bool // component "z" connects slowly (else a setup waits)
		ignoreCtx bool
		cancelled bool // ctx is cancelled before Startup
		wantCalls []string
		want      string
	}{
		{name: "a Connect that honours ctx", slowComp: true, wantCalls: connectedAB(), want: "component z"},
		{name: "a Connect that ignores ctx", slowComp: true, ignoreCtx: true, wantCalls: connectedAB(), want: "the caller's context ended"},
		{name: "a setup that honours ctx", wantCalls: connectedAB(), want: "setup 1"},
		{name: "a setup that ignores ctx", ignoreCtx: true, wantCalls: connectedAB(), want: "the context of Startup ended while the setup ran"},
		{name: "a context cancelled before Startup", cancelled: true, want: "Startup stopped before loading the plugins"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls(t)
			started := make(chan struct{})
			slow := &slowComp{started: started, ignoreCtx: tc.ignoreCtx, release: c.release}
			cfg := opa.Config{OptionalComponents: map[string]opa.ComponentConfig{
				"a": comp("yes", "fake", "a"), "b": comp("yes", "fake", "b"),
			}}
			web := opa.Plugin{}
			if tc.slowComp {
				cfg.OptionalComponents["z"] = opa.ComponentConfig{Load: "yes", Driver: "slow"}
				web.Drivers = []opa.Driver{{Name: "slow", New: func(opa.Options) (opa.Component, error) { return slow, nil }}}
			} else {
				web.Setups = []opa.Setup{func(ctx context.Context, _ chi.Router) error {
					close(started)
					if tc.ignoreCtx {
						<-c.release
						return nil
					}
					<-ctx.Done()
					return ctx.Err()
				}}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelled {
				cancel()
			} else {
				go func() { <-started; cancel() }()
			}
			opa.SetDefault(nil)
			t.Cleanup(func() { opa.SetDefault(nil) })
			err := opa.StartupContext(ctx, chi.NewRouter(), opa.WithConfig(cfgWithTemp(t, cfg)), opa.WithLogger(quietLog()),
				driverPlugin(c), opa.WithPlugin("web", web))
			require.Error(t, err)
			assert.ErrorIs(t, err, context.Canceled)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, tc.wantCalls, c.get(), "what connected is closed again, in reverse order")
			m := opa.GetManager()
			require.NotNil(t, m)
			assert.Equal(t, "failed", m.Report().State)
			_, err = opa.CallHook("x")
			assert.ErrorIs(t, err, opa.ErrState)
		})
	}
}

// connectedAB is the calls of fake components a and b connecting, then
// closing again.
func connectedAB() []string {
	return []string{"new:a", "connect:a", "validate:a", "new:b", "connect:b", "validate:b", "close:b", "close:a"}
}

// cfgWithTemp is cfg with a fresh, empty default plugin path.
func cfgWithTemp(t *testing.T, cfg opa.Config) opa.Config {
	cfg.DefaultPluginPath = t.TempDir()
	return cfg
}
