package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/internal/settings"
)

var lsCommand = &command{
	name:    "ls",
	summary: "why each plugin would, or would not, load",
	usage:   "ls [--settings DIR] [--env NAME] [--path DIR]... [--default-path DIR] [--host BINARY] [--json]",
	help: `Lists every plugin the host would find, in discovery order, and says
whether it would load (load), is left out by a filter or shadowed by a
plugin of the same name found first (skip), or fails a check (refuse: its
meta.json, the trust checks, the ELF checks, the build comparison, a copy of
another plugin). It runs the library's own discovery, filters and checks
(opa.Manager.Explain) and opens nothing. The trust checks include the
permission rule, with the same reasons as opa check and the host: the .so
file, its meta.json and every directory on their real paths (symlinks
resolved) up to /, and the settings directory and files.

Settings come from where the host reads them (opa.LoadConfig): the settings
files in OPA_SETTINGS_DIR (default /data/settings), the environment named by
ENV (default development), and OPA_ variables; the flags below override them.
Settings a host sets in its own code (opa.WithConfig, its own viper) are not
seen, nor plugins compiled into it (opa.Register).

The build comparison needs the binary that will load the plugins: without
--host it is skipped (this opa binary is not your host), and each plugin
that passes the other checks says "not compared with a host (no --host)".

Exit status: 0 the list was printed, even when plugins would be refused;
1 the settings are invalid or a plugin path cannot be read; 2 a usage error.`,
	examples: `  opa ls
  opa ls --settings /data/settings --env production --host /usr/local/bin/myhost
  OPA_PLUGIN_BLACKLIST_TAGS=beta opa ls --path ./build/plugins --json`,
	flags: func(fs *flag.FlagSet) func(*cli, []string) int {
		var o lsOptions
		fs.StringVar(&o.settings, "settings", "", "read the settings files in `DIR` (instead of OPA_SETTINGS_DIR)")
		fs.StringVar(&o.env, "env", "", "use the settings environment `NAME` (instead of ENV)")
		fs.Var(&o.paths, "path", "search the plugin path `DIR`; repeat for more; replaces PLUGIN_PATHS")
		fs.StringVar(&o.defaultPath, "default-path", "", "search `DIR` last (instead of PLUGIN_DEFAULT_PATH)")
		fs.StringVar(&o.host, "host", "", "compare each plugin's build with the host `BINARY`")
		fs.BoolVar(&o.json, "json", false, "print JSON instead of a table")
		return func(c *cli, args []string) int { return runLs(c, o, args) }
	},
}

// lsOptions are the flags of opa ls.
type lsOptions struct {
	settings, env, defaultPath, host string
	paths                            stringList
	json                             bool
}

// lsResult is what opa ls prints; --json prints it as it is.
type lsResult struct {
	SettingsDir       string     `json:"settings_dir"`
	Env               string     `json:"env"`
	PluginPaths       []string   `json:"plugin_paths"`
	DefaultPluginPath string     `json:"default_plugin_path"`
	Host              string     `json:"host"`                           // the binary builds were compared with; "": not compared
	Warnings          []string   `json:"warnings,omitempty"`             // about the host (it cannot load .so plugins, another GOARCH), then the settings' (Report.Warnings)
	OnError           string     `json:"on_error"`                       // PLUGIN_ON_ERROR: what a refused plugin does to Startup
	Insecure          bool       `json:"insecure_permissions,omitempty"` // OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS: no permission checks
	Plugins           []lsPlugin `json:"plugins"`                        // in discovery order
	// Fingerprint is the one the host would report with these plugins
	// and settings (with --host only: it digests the host binary too).
	Fingerprint *opa.Fingerprint `json:"fingerprint,omitempty"`
}

// lsPlugin is one plugin candidate and the decision on it.
type lsPlugin struct {
	Name     string                     `json:"name"`
	Path     string                     `json:"path"` // the match string the filters see: "<search path>/<name>"
	File     string                     `json:"file"`
	Tags     []string                   `json:"tags"`
	Meta     map[string]json.RawMessage `json:"meta,omitempty"`
	Decision string                     `json:"decision"`       // "load", "skip" or "refuse"
	Step     string                     `json:"step,omitempty"` // refuse: the check that failed ("meta", "name", "trust", "preflight", "identity", "build", "open")
	Reason   string                     `json:"reason,omitempty"`
	Note     string                     `json:"note,omitempty"`    // a blacklist filter that names the plugin, not its match string, so did not apply
	Module   string                     `json:"module,omitempty"`  // the module of a .so plugin's main package, from its build information
	Version  string                     `json:"version,omitempty"` // its version; "(devel)": built in its own checkout
}

// Decisions.
const (
	decisionLoad   = "load"
	decisionSkip   = "skip"
	decisionRefuse = "refuse"
)

// notCompared is the reason of a plugin whose build was not compared.
const notCompared = "not compared with a host (no --host)"

func runLs(c *cli, o lsOptions, args []string) int {
	if len(args) > 0 {
		return c.usageErr("unexpected argument %q: ls takes only flags (a plugin path is --path DIR)", args[0])
	}
	for _, d := range []struct{ flag, dir string }{{"--settings", o.settings}, {"--default-path", o.defaultPath}} {
		if err := checkDir(d.flag, d.dir); err != nil {
			return c.usageErr("%v", err)
		}
	}
	for _, p := range o.paths {
		if err := checkDir("--path", p); err != nil {
			return c.usageErr("%v", err)
		}
	}
	var host *debug.BuildInfo
	if o.host != "" {
		var err error
		if host, err = readHost(o.host); err != nil {
			return c.usageErr("%v", err)
		}
	}
	if o.settings != "" {
		os.Setenv("OPA_SETTINGS_DIR", o.settings)
	}
	if o.env != "" {
		os.Setenv("ENV", o.env)
	}
	cfg, err := opa.LoadConfig(nil)
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	if len(o.paths) > 0 {
		cfg.PluginPaths = o.paths
	}
	if o.defaultPath != "" {
		cfg.DefaultPluginPath = o.defaultPath
	}
	var h *opa.Host
	if host != nil {
		h = &opa.Host{File: o.host, Build: host}
	}
	res, err := explain(cfg, h)
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	if host != nil {
		res.Host, res.Warnings = o.host, append(hostWarnings(host), res.Warnings...)
	}
	if o.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
		return exitOK
	}
	printTable(c.stdout, res, host)
	return exitOK
}

// checkDir says, for a flag given a directory, that it does not exist; an
// empty dir (the flag not given) is fine.
func checkDir(flagName, dir string) error {
	if dir == "" {
		return nil
	}
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("%s %s: %w", flagName, dir, cause(err))
	case !st.IsDir():
		return fmt.Errorf("%s %s: not a directory", flagName, dir)
	}
	return nil
}

// explain runs the library's Explain on cfg and turns its report into
// decisions. A nil host skips the build comparison; plugins that pass every
// other check then say notCompared.
func explain(cfg opa.Config, host *opa.Host) (lsResult, error) {
	env := settings.Environ(os.Environ())
	res := lsResult{
		SettingsDir:       settings.Dir(env), // as LoadConfig reads them
		Env:               settings.Section(env),
		PluginPaths:       append([]string{}, cfg.PluginPaths...),
		DefaultPluginPath: cmp.Or(cfg.DefaultPluginPath, opa.DefaultPluginPath),
		OnError:           cmp.Or(cfg.OnError, opa.OnErrorFail),
		Insecure:          cfg.AllowInsecurePermissions,
		Plugins:           []lsPlugin{},
	}
	m, err := opa.New(opa.WithConfig(cfg), opa.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return res, err
	}
	rep, err := m.Explain(host)
	if err != nil && len(rep.Plugins) == 0 {
		return res, err // bad filters, an unreadable plugin path
	}
	res.Warnings = rep.Warnings
	if host != nil {
		res.Fingerprint = rep.Fingerprint
	}
	for _, p := range rep.Plugins {
		lp := lsPlugin{Name: p.Name, Path: p.Path, File: p.File, Tags: p.Tags, Meta: p.Meta, Decision: decisionSkip, Reason: p.Reason, Note: p.Note, Module: p.Module, Version: p.Version}
		switch {
		case p.Loaded:
			lp.Decision = decisionLoad
			if host == nil && !p.Builtin {
				lp.Reason = notCompared
			}
		case p.Step != "":
			prefix := fmt.Sprintf("opa: plugin %s (%s): %s: ", p.Name, p.Path, p.Step)
			lp.Decision, lp.Step, lp.Reason = decisionRefuse, p.Step, strings.TrimPrefix(p.Reason, prefix)
		}
		res.Plugins = append(res.Plugins, lp)
	}
	return res, nil
}

// printTable prints the settings, one line per plugin, and a summary.
func printTable(w io.Writer, res lsResult, host *debug.BuildInfo) {
	var search []string
	for _, p := range res.PluginPaths {
		search = append(search, showDir(p))
	}
	search = append(search, showDir(res.DefaultPluginPath, "default"))
	fmt.Fprintf(w, "settings: %s, ENV=%s\n", showDir(res.SettingsDir), res.Env)
	fmt.Fprintf(w, "search:   %s\n", strings.Join(search, ", "))
	if host != nil {
		fmt.Fprintf(w, "build:    compared with %s (%s)\n", res.Host, buildPlan(host).describe())
	} else {
		fmt.Fprintln(w, "build:    NOT compared with a host: no --host given, and this opa binary is not your host; plugins are checked against each other")
	}
	for _, warning := range res.Warnings {
		fmt.Fprintf(w, "warning:  %s\n", warning)
	}
	if fp := res.Fingerprint; fp != nil {
		fmt.Fprintf(w, "fingerprint: plugins %s settings %s%s\n", opa.Short(fp.Plugins), opa.Short(fp.Settings), unhashedNote(fp))
	}
	if res.Insecure {
		fmt.Fprintln(w, "trust:    permissions NOT checked: OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=true (development only)")
	}
	fmt.Fprintln(w)
	if len(res.Plugins) == 0 {
		fmt.Fprintln(w, "no plugins found")
		return
	}
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPATH\tTAGS\tDECISION\tREASON")
	count := map[string]int{}
	for _, p := range res.Plugins {
		count[p.Decision]++
		tags, reason := "-", p.Reason
		if len(p.Tags) > 0 {
			tags = strings.Join(p.Tags, ",")
		}
		if p.Step != "" { // the file is in the PATH column already
			if rest, ok := strings.CutPrefix(reason, p.File); ok && p.File != "" {
				reason = strings.TrimLeft(rest, ": ")
			}
			reason = p.Step + ": " + reason
		}
		if p.Note != "" {
			reason = strings.TrimPrefix(reason+"; note: "+p.Note, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Path, tags, p.Decision, reason)
	}
	_ = tw.Flush()
	for line := range strings.Lines(table.String()) {
		fmt.Fprintln(w, strings.TrimRight(line, " \n")) // no padding after an empty reason
	}
	fmt.Fprintf(w, "\n%d would load, %d skipped, %d refused", count[decisionLoad], count[decisionSkip], count[decisionRefuse])
	switch {
	case count[decisionRefuse] == 0:
		fmt.Fprintln(w)
	case res.OnError == opa.OnErrorSkip:
		fmt.Fprintln(w, ": the host leaves refused plugins out and starts (PLUGIN_ON_ERROR=skip)")
	default:
		fmt.Fprintln(w, ": the host's Startup fails (PLUGIN_ON_ERROR=fail)")
	}
}

// showDir returns dir with its notes in parentheses, and "missing" when
// it does not exist.
func showDir(dir string, notes ...string) string {
	if _, err := os.Stat(dir); err != nil {
		notes = append(notes, "missing")
	}
	if len(notes) == 0 {
		return dir
	}
	return dir + " (" + strings.Join(notes, ", ") + ")"
}

// unhashedNote says which plugins a fingerprint covers by module and
// version only, or "".
func unhashedNote(fp *opa.Fingerprint) string {
	if len(fp.Unhashed) == 0 {
		return ""
	}
	return " (not hashed, no opa.lock or pin: " + strings.Join(fp.Unhashed, ", ") + ")"
}
