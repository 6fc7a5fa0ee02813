package opa_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/opa-stack/opa-go"
)

// exampleConfig finds no .so plugins (its default plugin path does not
// exist), so only the plugins given with WithPlugin load.
var exampleConfig = opa.Config{DefaultPluginPath: "/nonexistent/opa-example-plugins"}

// exampleQuiet drops log records, so the examples print only their output.
var exampleQuiet = opa.WithLogger(slog.New(slog.DiscardHandler))

// exampleGreeter defines the hook "greet", implements it and serves
// /hello/{name} with whichever hook won.
func exampleGreeter() opa.Plugin {
	r := opa.GetRouter()
	r.Get("/hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		greet, err := opa.HookFunc[func(string) string]("greet")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, greet(chi.URLParam(r, "name")))
	})
	return opa.Plugin{
		HookDefinitions: []opa.HookDefinition{
			{Name: "greet", Required: true, Func: (func(string) string)(nil)},
		},
		Hooks: []opa.Hook{
			{Name: "greet", Func: func(name string) string { return "Hello, " + name + "!" }},
		},
		Router: r,
	}
}

// exampleLoud overrides "greet" with a higher Order.
func exampleLoud() opa.Plugin {
	return opa.Plugin{Hooks: []opa.Hook{
		{Name: "greet", Order: 10, Func: func(name string) string { return "HELLO, " + strings.ToUpper(name) + "!" }},
	}}
}

func exampleGet(h http.Handler, path string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
}

func ExampleStartup() {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "home") })

	err := opa.Startup(r, opa.WithConfig(exampleConfig), exampleQuiet,
		opa.WithPlugin("greeter", exampleGreeter()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		_ = opa.Shutdown(context.Background())
		opa.SetDefault(nil)
	}()

	exampleGet(r, "/")
	exampleGet(r, "/hello/ada")
	// Output:
	// 200 home
	// 200 Hello, ada!
}

func ExampleStartup_failure() {
	// No plugin implements the required hook "greet".
	defs := opa.Plugin{HookDefinitions: []opa.HookDefinition{{Name: "greet", Required: true}}}
	err := opa.Startup(chi.NewRouter(), opa.WithConfig(exampleConfig), exampleQuiet,
		opa.WithPlugin("defs", defs))
	fmt.Println(err)
	// Output:
	// opa: Hooks that should be registered: [greet]: greet (defined by plugin defs); load a plugin that provides them, or check the filters
}

func ExampleCallHook() {
	err := opa.StartupSimple(opa.WithConfig(exampleConfig), exampleQuiet,
		opa.WithPlugin("greeter", exampleGreeter()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		_ = opa.Shutdown(context.Background())
		opa.SetDefault(nil)
	}()

	res, err := opa.CallHook("greet", "grace")
	fmt.Println(res, err)

	_, err = opa.CallHook("greet", 42)
	fmt.Println(err)
	// Output:
	// [Hello, grace!] <nil>
	// opa: bad hook call: hook "greet" (plugin greeter): argument 1 is int, want string
}

func ExampleHookFunc() {
	r := chi.NewRouter()
	err := opa.Startup(r, opa.WithConfig(exampleConfig), exampleQuiet,
		opa.WithPlugin("greeter", exampleGreeter()),
		opa.WithPlugin("loud", exampleLoud()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		_ = opa.Shutdown(context.Background())
		opa.SetDefault(nil)
	}()

	// The hook with the highest Order wins, as a plain func.
	greet, err := opa.HookFunc[func(string) string]("greet")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(greet("ada"))
	exampleGet(r, "/hello/linus")
	// Output:
	// HELLO, ADA!
	// 200 HELLO, LINUS!
}

// exampleKV is a component: an in-memory map standing in for a cache client.
type exampleKV struct{ data map[string]string }

func (k *exampleKV) Connect(context.Context) error { k.data = map[string]string{}; return nil }
func (k *exampleKV) Instance() any                 { return k.data }

func ExampleManager_CallHook() {
	kv := opa.Driver{Name: "memory", New: func(opa.Options) (opa.Component, error) { return &exampleKV{}, nil }}
	cfg := exampleConfig
	cfg.OptionalComponents = map[string]opa.ComponentConfig{"cache": {Load: "yes", Driver: "memory"}}

	m, err := opa.New(opa.WithConfig(cfg), exampleQuiet,
		opa.WithPlugin("greeter", exampleGreeter()),
		opa.WithPlugin("store", opa.Plugin{Drivers: []opa.Driver{kv}}))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := chi.NewRouter()
	if err := m.Startup(context.Background(), r); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = m.Shutdown(context.Background()) }()

	res, err := m.CallHook("greet", "ada")
	fmt.Println(res, err)

	cache, err := opa.InstanceOf[map[string]string](m, "cache")
	fmt.Println(len(cache), err)

	// The plugin's route calls opa.HookFunc, which uses the default Manager.
	exampleGet(r, "/hello/ada")
	opa.SetDefault(m)
	defer opa.SetDefault(nil)
	exampleGet(r, "/hello/ada")
	// Output:
	// [Hello, ada!] <nil>
	// 0 <nil>
	// 500 opa: wrong state: opa.Startup has not been called (a host using opa.New calls opa.SetDefault)
	// 200 Hello, ada!
}

// ExampleDefineHook stays the last example of the package's test binary:
// DefineHook's definitions are process-wide, and a required one would fail
// every later Startup that has no plugin implementing it.
func ExampleDefineHook() {
	// In the host's main (or an init), before Startup.
	opa.DefineHook(opa.HookDefinition{Name: "shout", Required: true, Func: (func(string) string)(nil)})

	// A plugin implements it; here one compiled in, a .so does the same.
	loud := opa.Plugin{Hooks: []opa.Hook{{Name: "shout", Func: func(s string) string { return strings.ToUpper(s) + "!" }}}}
	if err := opa.StartupSimple(opa.WithConfig(exampleConfig), exampleQuiet, opa.WithPlugin("loud", loud)); err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		_ = opa.Shutdown(context.Background())
		opa.SetDefault(nil)
	}()
	res, err := opa.CallHook("shout", "hello")
	fmt.Println(res, err)
	h := opa.GetManager().Report().Hooks[0]
	fmt.Println(h.Name, h.DefinedBy, h.Host)
	// Output:
	// [HELLO!] <nil>
	// shout host true
}
