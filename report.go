package opa

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Report says what a Manager found and did, and why: every plugin candidate
// with the reason it did or did not load, the hooks chosen, the components
// and their state, and the routes mounted. It is filled as Startup goes, so
// after a failed Startup it shows how far it got.
type Report struct {
	// State is the Manager's state when the report was taken: "started",
	// "failed" (Error says why) or "stopped"; empty before Startup.
	State       string   `json:"state"`
	SearchPaths []string `json:"search_paths"` // the paths searched, in order (Config.SearchPaths)
	// Warnings are settings that may not do what they seem to, each also a
	// WARN line: a PLUGIN_SHA256 pin that names no .so plugin found, a tag
	// in a TAGS filter that no plugin has while one has a near tag.
	Warnings []string `json:"warnings,omitempty"`
	// MissingPaths are the paths of PLUGIN_PATHS that do not exist (a
	// typo?): skipped silently, as in opa-stack, and listed here. The
	// default path, searched always and often absent on purpose, is not.
	MissingPaths []string `json:"missing_paths,omitempty"`
	// Settings says where the settings came from: the host's code
	// (WithConfig), or the settings directory, the ENV section and the OPA_
	// variables LoadConfig read (with the host's viper first, WithViper).
	Settings   string            `json:"settings,omitempty"`
	Plugins    []PluginReport    `json:"plugins"`    // every candidate found, in discovery order
	Hooks      []HookReport      `json:"hooks"`      // every hook definition, sorted by name
	Components []ComponentReport `json:"components"` // every optional component, in connect order
	Routes     []RouteReport     `json:"routes"`     // every route mounted from a plugin
	Error      string            `json:"error,omitempty"`
	// BuildCheck says how plugins were checked against the host before
	// opening: "package hashes, as plugin.Open decides", or why the check
	// fell back to build information.
	BuildCheck string `json:"build_check,omitempty"`
	// Fingerprint digests what the instance runs (plugins) and how it is
	// configured (settings), to compare instances: opa fleet. Nil before
	// plugins were loaded.
	Fingerprint *Fingerprint `json:"fingerprint,omitempty"`
	// Reloads counts the reloads of this process by outcome, as the host
	// counted them (Manager.CountReload); empty when it counted none.
	Reloads map[string]uint64 `json:"reloads,omitempty"`
	// LastReload is the last reload the host counted: when, its outcome,
	// and why it failed; nil when it counted none.
	LastReload *ReloadReport `json:"last_reload,omitempty"`
}

// PluginReport is one plugin candidate.
type PluginReport struct {
	Name    string                     `json:"name"`
	Path    string                     `json:"path"` // the match string: "<search path>/<name>"
	File    string                     `json:"file,omitempty"`
	Builtin bool                       `json:"builtin,omitempty"` // compiled in with Register or WithPlugin
	Tags    []string                   `json:"tags"`
	Meta    map[string]json.RawMessage `json:"meta,omitempty"` // meta.json fields other than tags
	Loaded  bool                       `json:"loaded"`
	Reason  string                     `json:"reason,omitempty"` // why not loaded: which filter, "shadowed by ...", the error
	Step    string                     `json:"step,omitempty"`   // the step that failed (PluginError.Step): "meta", "trust", "preflight", "build", "open", "hooks", ...
	Tasks   []string                   `json:"tasks,omitempty"`  // the kinds of its tasks
	Error   string                     `json:"error,omitempty"`  // a failure after loading that PLUGIN_ON_ERROR=skip let pass (a setup)
	// Note says what in the settings may not do what it seems to: a
	// blacklist filter that names the plugin by its name, not by its match
	// string, and so did not apply to it; a PLUGIN_SHA256 pin under a near
	// name, so that the plugin is not pinned.
	Note string `json:"note,omitempty"`
	// Opened says how the .so file was opened: OpenedCopy (a private copy,
	// made before any check, that plugin.Open mapped), OpenedReadOnly or
	// OpenedInPlace. Empty for a plugin not opened.
	Opened string `json:"opened,omitempty"`
	// Module and Version are the module of a .so plugin's main package and
	// its version ("(devel)" for a build in its own checkout), from the
	// file's build information.
	Module  string `json:"module,omitempty"`
	Version string `json:"version,omitempty"`
	// SHA256 is the SHA-256 of the bytes loaded, in hex, when it was
	// computed: for a plugin pinned with PLUGIN_SHA256.
	SHA256 string `json:"sha256,omitempty"`
	// Traffic is what the plugin's routes served since Startup (see
	// Stats), taken when the report is: set for each loaded plugin of a
	// started Manager that has routes.
	Traffic *PluginTraffic `json:"traffic,omitempty"`
}

// addNote adds the sentence more to a plugin's note.
func addNote(note, more string) string {
	if note == "" {
		return more
	}
	return note + ". " + more
}

// HookReport is one hook definition, the hook that won it and every hook
// that competed for it.
type HookReport struct {
	Name string `json:"name"`
	// DefinedBy is the plugin whose HookDefinitions hold it, or "host" for
	// a definition of the host's own (DefineHook, WithHooks; Host is set).
	DefinedBy string `json:"defined_by"`
	Host      bool   `json:"host,omitempty"` // defined by the host: no filter applies to it
	Required  bool   `json:"required,omitempty"`
	Type      string `json:"type,omitempty"`   // the definition's func type; empty: any func
	Plugin    string `json:"plugin,omitempty"` // the plugin whose hook won; empty: none
	Order     int    `json:"order"`
	// Candidates are every hook of this name that the loaded plugins
	// provide, in registration order (plugin order, then each plugin's
	// Hooks in order). The one marked Winner is the one called: the
	// highest Order, on a tie the last registered. Empty: no loaded plugin
	// provides the hook.
	Candidates []HookCandidate `json:"candidates"`
}

// HookCandidate is one hook competing for a hook name.
type HookCandidate struct {
	Plugin string `json:"plugin"`
	Order  int    `json:"order"`
	Winner bool   `json:"winner,omitempty"` // this hook is the one called
}

// ComponentReport is one optional component.
type ComponentReport struct {
	Name   string `json:"name"`
	Driver string `json:"driver"`
	Plugin string `json:"plugin,omitempty"` // the plugin whose driver built it
	Load   string `json:"load"`
	State  string `json:"state"` // StateConnected, StateUnavailable, StateDisabled, StateClosed, or "failed"
	Error  string `json:"error,omitempty"`
	// Status is what a connected StatusReporter said of itself when the
	// report was served (ReportWithStatus), as plain JSON values, redacted;
	// StatusError says why it could not, naming the component. Report
	// leaves both empty.
	Status      any    `json:"status,omitempty"`
	StatusError string `json:"status_error,omitempty"`
}

// RouteReport is one route mounted from a plugin.
type RouteReport struct {
	Method  string `json:"method"`
	Pattern string `json:"pattern"`
	Plugin  string `json:"plugin"`
	// ReplacedByHost is set when the host router no longer serves the
	// plugin's handler here: a host route on the same method and path was
	// added after Startup (chi replaces it silently). Report also warns.
	ReplacedByHost bool `json:"replaced_by_host,omitempty"`
}

// String renders the report as plain text, one line per item.
func (r Report) String() string {
	var b strings.Builder
	for _, dir := range r.MissingPaths {
		fmt.Fprintf(&b, "search path %s: does not exist\n", dir)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	if len(r.Plugins) == 0 {
		b.WriteString("plugins: none found\n")
	}
	for _, p := range r.Plugins {
		state := "loaded"
		if !p.Loaded {
			state = "not loaded: " + p.Reason
		}
		if p.Note != "" {
			state += "; note: " + p.Note
		}
		if p.Opened != "" {
			state += "; opened as " + p.Opened
		}
		fmt.Fprintf(&b, "plugin %s (%s) tags=%v: %s\n", p.Name, p.Path, p.Tags, state)
	}
	for _, h := range r.Hooks {
		winner := "no hook"
		if h.Plugin != "" {
			winner = fmt.Sprintf("plugin %s (order %d)", h.Plugin, h.Order)
		}
		by := h.DefinedBy
		if h.Host {
			by = "the host"
		}
		fmt.Fprintf(&b, "hook %s (defined by %s): %s\n", h.Name, by, winner)
	}
	for _, c := range r.Components {
		fmt.Fprintf(&b, "component %s (driver %s, LOAD=%s): %s", c.Name, c.Driver, c.Load, c.State)
		if c.Error != "" {
			fmt.Fprintf(&b, ": %s", c.Error)
		}
		if c.Status != nil {
			if js, err := json.Marshal(c.Status); err == nil {
				fmt.Fprintf(&b, " status=%s", js)
			}
		}
		if c.StatusError != "" {
			fmt.Fprintf(&b, " status error: %s", c.StatusError)
		}
		b.WriteByte('\n')
	}
	for _, rt := range r.Routes {
		replaced := ""
		if rt.ReplacedByHost {
			replaced = ": replaced by the host"
		}
		fmt.Fprintf(&b, "route %s %s (plugin %s)%s\n", rt.Method, rt.Pattern, rt.Plugin, replaced)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "startup failed: %s\n", r.Error)
	}
	return b.String()
}

// publishReport stores rep as the Manager's report, taken in state p.
func (m *Manager) publishReport(rep *Report, p phase) {
	rep.State = p.String()
	rep.SearchPaths = searchPaths(m.cfg)
	rep.Settings = m.settings
	rep.Fingerprint = m.fingerprint(rep, currentBuildID())
	m.report.Store(rep)
}

// reportStopped marks the stored report as taken from a stopped Manager.
func (m *Manager) reportStopped() {
	rep := *m.report.Load()
	m.publishReport(&rep, phaseStopped)
}

// ReportHandler serves m.ReportWithStatus(r.Context()), for a host to mount
// where only operators reach it: on a private listener, or behind its own
// auth (e.g. r.Get("/opa/report", m.ReportHandler()) in a chi group whose
// middleware authenticates). The report holds no secret, but it is operator
// data: file paths, user names, builds, component errors (see the package
// doc, "Secrets and the report"). A request that prefers text/html (a browser)
// gets a page; any other (curl's "*/*", "application/json", none) gets
// JSON. The query ?format=json or ?format=html overrides the Accept header.
// The page shows what the JSON shows and nothing else, every value escaped.
// Each request asks the components for their Status (StatusReporter).
func (m *Manager) ReportHandler() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		serveReport(w, r, m.ReportWithStatus(r.Context()))
	}
}

// serveReport answers with rep as the request asks: HTML or JSON.
func serveReport(w http.ResponseWriter, r *http.Request, rep Report) {
	html, err := wantsHTML(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Add("Vary", "Accept")
	if html {
		writeReportHTML(w, rep)
		return
	}
	writeReport(w, rep)
}

func writeReport(w http.ResponseWriter, r Report) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(r)
}
