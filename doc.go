// Package opa finds, filters and loads plugins for a Go web service, and
// manages what they provide: hooks, drivers for optional components
// (databases, caches), go-chi routes and setup functions. It is a Go port of
// the plugin system of opa-stack.
//
// # Plugins
//
// A plugin is a package main built with -buildmode=plugin that exports
//
//	var Plugin = opa.Plugin{...}
//
// It lives in a plugin path as NAME.so (with an optional NAME-meta.json
// beside it) or as a directory NAME holding plugin.so (and an optional
// meta.json). A plugin can also be compiled into the host with Register.
//
// # Discovery and filters
//
// Every path of PLUGIN_PATHS is searched in order, then the default path
// (/data/opa/plugins). The first plugin of a name wins, even when a filter
// then drops it. Six filters, all "allow" while unset, decide what loads:
// PLUGIN_WHITELIST_LIST, _RE and _TAGS, PLUGIN_BLACKLIST_LIST, _RE and _TAGS.
// LIST and RE filters match "<path>/<name>"; RE filters match at the start
// only; TAGS filters compare with the tags of meta.json. Only chosen plugins
// are opened. Report says, for every candidate, whether it loaded and why not.
//
// # Startup
//
// Startup runs in a fixed order:
//
//  1. discover, filter and load the plugins;
//  2. register the host's hook definitions (DefineHook, WithHooks), then
//     every plugin's, then every hook, and pick each name's winner (highest
//     Order, a tie to the hook registered last); register the drivers and
//     check the routes against the host's;
//  3. connect the optional components in sorted name order (StartupSimple
//     stops here);
//  4. mount every plugin's router on the host router;
//  5. run every setup.
//
// If a step fails, or the context given to StartupContext (or
// Manager.Startup) ends, what was connected is closed again. Shutdown closes
// components in reverse order; if its ctx expires first it returns ctx's
// error, as http.Server.Shutdown does, while the components go on closing.
//
// A component may have more to it than Connect and Instance, found by
// interface assertion: Validator, Closer, Utiler, ManagerBinder, and
// StatusReporter, whose Status the served report (ReportHandler) shows.
//
// # Secrets and the report
//
// Secrets never leave the process. The values under secret-looking OPTS
// keys (by the key's words: password, secret, token, api_key, ...), the
// passwords of URLs (also with an unescaped '#', '/', '@' or ':'; where
// the user cannot be told from the password, the whole userinfo), secret
// query parameters (?password=, ?access_token=, ?sig=) and the password of
// a libpq key=value string are removed from every error, log line and
// report, at any length. The scheme, host, port, database and user stay.
// A secret under 6 characters cannot be told from an ordinary word: it is
// replaced inside its option's own text (the URL as a driver repeats it)
// and next to its key, and a component's error that still holds it is
// hidden whole. Manager.RedactTaskError does the same for a task's error,
// with the secrets of its args.
//
// The report is operator data all the same: file paths, search paths, user
// names from trust reasons, builds and component errors. Mount
// ReportHandler where only operators reach it: on a private listener (the
// example host's -admin, on loopback by default), or behind the host's own
// auth middleware in a chi group.
//
// # Usage
//
// Host middleware and routes come first, then Startup, which mounts the
// plugins' routes after them (a plugin route on a path the host serves
// fails Startup); after Startup, r.Use panics (chi) and a host route on a
// plugin's path would replace the plugin's handler. A hook the host calls
// is defined by the host and called through a handle:
//
//	var greeting = opa.HookRef[func(string) string]("greeting")
//
//	func main() {
//		opa.DefineHook(opa.HookDefinition{Name: "greeting", Required: true, Func: (func(string) string)(nil)})
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		defer stop()
//
//		r := chi.NewRouter()
//		r.Use(middleware.Logger)
//		r.Get("/hi", func(w http.ResponseWriter, req *http.Request) {
//			greet, err := greeting.Func()
//			...
//			fmt.Fprintln(w, greet("world"))
//		})
//		if err := opa.StartupContext(ctx, r); err != nil {
//			log.Fatal(err)
//		}
//		srv := &http.Server{Addr: ":8080", Handler: r}
//		go srv.ListenAndServe()
//		<-ctx.Done()
//		srv.Shutdown(context.Background()) // first the server
//		opa.Shutdown(context.Background()) // then the components
//	}
//
// The README's complete host handles the errors this leaves out.
//
// The package-level functions use a default Manager, set when Startup
// begins: plugins may call them during Startup, hooks once registered
// (step 2: in a component's Connect, not from a plugin's package-level
// vars, which run in step 1), each component once connected (components
// connect in sorted name order, so a component's Connect may use those
// whose names sort before its own; setups may use them all). After a
// failed Startup, GetManager returns the failed Manager, whose Report says
// why. A host that wants no globals makes its own with New, and calls
// SetDefault(m) if plugins use the package-level functions.
//
// # Many instances
//
// A plugin folder that holds an opa.lock (LockFile, written by the opa
// command's lock, add and remove) loads only the .so files it names, each
// with the SHA-256 it records. The report carries a Fingerprint of what an
// instance runs (the host binary and its plugins) and of its settings, for
// opa fleet to compare instances.
//
// # Configuration
//
// LoadConfig reads settings files (YAML, JSON, TOML) from the settings
// directory (OPA_SETTINGS_DIR, default /data/settings) with environments
// (default, then ENV, then global) and OPA_ environment variables, following
// dynaconf's rules as opa-stack used them (a map marked dynaconf_merge merges
// all the way down). See LoadConfig and Config.
//
// # Metrics and panics
//
// Each plugin's routes are mounted behind a handler of opa's that counts
// its requests, responses by class, panics and (for the first request and
// then one in WithLatencySampling's n) latency, in atomic counters, and
// recovers a panic in the plugin's handler (WithPanicRecovery): a 500, one
// ERROR line naming the plugin, and the panic counted. CallHook counts
// calls and errors per hook; HookFunc and HookRef are not counted.
// Manager.Stats returns the counters, the report shows them per plugin,
// and the module metrics/ exports them to Prometheus. WithRouteMiddleware
// gives the host a middleware per plugin, applied at mount.
//
// # Where things live
//
// This package is the plugin model: Plugin, Manager, discovery, filters,
// hooks, drivers and components, routes, tasks and the Report. The
// subsystems it uses live under internal/: internal/settings reads and
// merges the settings layers (files, sections, OPA_ variables, dynaconf's
// merge markers) and knows nothing about plugins; internal/preflight holds
// every check made on a .so file before plugin.Open (ELF layout, build
// information, identity, SHA-256 pins, and the package hashes that decide,
// as plugin.Open does, whether a plugin can load next to the host and the
// plugins before it), and the reads of small files that never block;
// internal/trust the permission rule for files that decide which code
// runs; internal/stage the private copies that are checked and opened;
// internal/lock the opa.lock format. internal/suggest finds the closest
// name for "did you mean", internal/bufpool pools read buffers,
// internal/pidfile is how serve and the opa command talk through a PID
// file, and internal/testenv is the tests' one helper for what they need
// from the machine. LoadConfig and Config, and the loading path
// that calls the checks, stay here. The opa command (cmd/opa) and the
// modules river/ (background tasks), serve/ (reloads without downtime),
// metrics/ (the Prometheus exporter) and examples/ live beside it.
package opa
