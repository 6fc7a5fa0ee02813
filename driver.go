package opa

import "context"

// Driver builds components of one kind (a database, a cache). The drivers of
// every loaded plugin are registered; OPTIONAL_COMPONENTS names the driver of
// each component.
type Driver struct {
	Name string                                // case-insensitive and unique
	New  func(opts Options) (Component, error) // an unconnected component built from its OPTS

	// Opts, when not nil, are the OPTS keys the driver accepts (compared
	// case-insensitively). A component whose OPTS hold another key then
	// fails Startup before New is called, with a *ConfigError naming the
	// component's key and the closest accepted one ("unknown setting
	// OPTIONAL_COMPONENTS.CACHE.OPTS.URLL (did you mean URL?)"). Nil accepts
	// any key, leaving New to check them; empty accepts none.
	Opts []string
}

// Options are a component's OPTS. Keys are lower-case, as viper gives them.
type Options map[string]any

// Component is a connection to an optional service, built by a Driver.
//
// A component's life, for each entry of OPTIONAL_COMPONENTS whose LOAD is
// not no, in sorted name order, during Startup (after the plugins' hooks
// and drivers are registered, before routes are mounted):
//
//  1. Driver.Opts is checked against the entry's OPTS: an unknown key
//     fails Startup, and New is not called.
//  2. Driver.New builds the component from its OPTS, unconnected.
//  3. BindManager, if it is a ManagerBinder, gives it the Manager.
//  4. Connect connects it, under COMPONENT_TIMEOUT. An error wrapping
//     ErrUnavailable with LOAD=auto leaves it unavailable, and Startup goes
//     on; any other error fails Startup.
//  5. Validate, if it is a Validator, checks the connection, under the same
//     timeout; an error fails Startup.
//  6. From then on Component, GetUtil (Util, if it is a Utiler) and the
//     report (Status, if it is a StatusReporter) reach it.
//  7. Close, if it is a Closer, at Shutdown, or when a later step of
//     Startup fails: in reverse connect order, each under COMPONENT_TIMEOUT.
//
// A component whose Connect fails is not closed: Connect must leave
// nothing open when it returns an error. One whose Validate fails is
// closed, with those connected before it.
type Component interface {
	// Connect connects to the service. An error wrapping ErrUnavailable
	// means "the service is not there": with LOAD=auto the component is then
	// left unavailable and Startup goes on.
	Connect(ctx context.Context) error
	// Instance returns the client that handlers use.
	Instance() any
}

// Validator is implemented by a Component that can check its connection;
// Validate is called after a successful Connect, and an error fails Startup.
type Validator interface {
	Validate(ctx context.Context) error
}

// Closer is implemented by a Component that holds resources; Close is called
// at Shutdown, in reverse connect order, and on a failed Startup.
type Closer interface {
	Close(ctx context.Context) error
}

// Utiler is implemented by a Component that offers helpers besides its
// instance; Util is what GetUtil returns.
type Utiler interface {
	Util() any
}

// ManagerBinder is implemented by a Component that needs the Manager that
// builds it, for the loaded plugins' tasks (Manager.Tasks) or hooks: a job
// queue's driver, say. BindManager is called after New and before Connect.
// (The original gave every driver instance its plugin manager as .pm.)
type ManagerBinder interface {
	BindManager(m *Manager)
}

// StatusReporter is implemented by a Component that can say how it is
// doing: a job queue its jobs by queue and state, a pool its connections.
// Status is called each time the report is served (ReportHandler,
// Manager.ReportWithStatus), for a connected component only, under a
// deadline of StatusTimeout (or COMPONENT_TIMEOUT if shorter), while the
// other components are asked at the same time. The value must marshal to
// JSON; a map with string keys, such as map[string]any, reads best (the
// report page shows a map of maps of numbers as a table). Values of keys
// that look secret, and the secrets of every component's OPTS, are
// redacted as in the OPTS the report and logs show. An error, a panic or a
// missed deadline shows in the report as StatusError, naming the component;
// the rest of the report is served as usual.
type StatusReporter interface {
	Status(ctx context.Context) (any, error)
}
