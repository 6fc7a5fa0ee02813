package opa_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-chi/chi/v5"

	"github.com/opa-stack/opa-go"
)

// greetHook is a typed hook handle in a package-level var: made before
// Startup, it resolves the hook at its first Func after Startup.
var greetHook = opa.HookRef[func(string) string]("greet")

func ExampleHookRef() {
	// Before Startup, Func is an error (never a nil func that panics).
	_, err := greetHook.Func()
	fmt.Println(errors.Is(err, opa.ErrState))

	err = opa.StartupSimple(opa.WithConfig(exampleConfig), exampleQuiet,
		opa.WithPlugin("greeter", exampleGreeter()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		_ = opa.Shutdown(context.Background())
		opa.SetDefault(nil)
	}()

	greet, err := greetHook.Func() // in a handler: cached after the first call
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(greet("ada"))
	// Output:
	// true
	// Hello, ada!
}

func ExampleStartupContext() {
	// SIGTERM or Ctrl-C during a slow Startup (a database that does not
	// answer) stops it and closes what was connected.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Here a setup stands in for the signal: it cancels the context and
	// then waits for it, as a slow setup that honours its ctx does.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slow := opa.Plugin{Setups: []opa.Setup{func(ctx context.Context, _ chi.Router) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}}}

	err := opa.StartupContext(ctx, chi.NewRouter(), opa.WithConfig(exampleConfig), exampleQuiet,
		opa.WithPlugin("slow", slow))
	defer opa.SetDefault(nil)
	fmt.Println(errors.Is(err, context.Canceled))
	fmt.Println(opa.GetManager().Report().State)
	// Output:
	// true
	// failed
}

func ExampleWithHooks() {
	// The host defines the hook; a plugin implements it. No filter applies
	// to the host's definition: here the whitelist keeps only plugins tagged
	// "web", and the hook is still defined.
	cfg := exampleConfig
	cfg.WhitelistTags = []string{"web"}
	impl := opa.Plugin{Hooks: []opa.Hook{{Name: "fullname", Func: func(first, sur string) string { return first + " " + sur }}}}
	m, err := opa.New(opa.WithConfig(cfg), exampleQuiet,
		opa.WithHooks(opa.HookDefinition{Name: "fullname", Required: true, Func: (func(first, sur string) string)(nil)}),
		opa.WithPlugin("names", impl, "web"))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := m.StartupSimple(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = m.Shutdown(context.Background()) }()

	fullname, err := opa.HookFuncOf[func(first, sur string) string](m, "fullname")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(fullname("ada", "lovelace"))
	fmt.Print(m.Report().String())
	// Output:
	// ada lovelace
	// plugin names (/nonexistent/opa-example-plugins/names) tags=[web]: loaded
	// hook fullname (defined by the host): plugin names (order 0)
}
