package opa

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/opa-stack/opa-go/internal/preflight"
	"github.com/opa-stack/opa-go/internal/stage"
)

// loaded is a plugin chosen by the filters and opened.
type loaded struct {
	name   string
	match  string
	plugin *Plugin
	report int // its PluginReport's index in the Report's Plugins
}

// lookupPlugin opens a candidate's .so file, path (its private copy, or
// source itself), and returns its Plugin variable, turning a missing
// symbol, a symbol of the wrong type and a panic in the plugin's init into
// errors. The runtime's messages name source, not the copy.
func lookupPlugin(path, source string) (p *Plugin, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("its init %w", &PanicError{Value: v})
		}
	}()
	sym, err := openSO(path)
	if err != nil {
		if path != source {
			err = errors.New(strings.ReplaceAll(err.Error(), path, source))
		}
		return nil, explainOpenError(err)
	}
	switch v := sym.(type) {
	case *Plugin:
		if v == nil {
			return nil, errors.New("exported Plugin is nil")
		}
		return v, nil
	case **Plugin:
		if v == nil || *v == nil {
			return nil, errors.New("exported Plugin is a nil *opa.Plugin")
		}
		return *v, nil
	default:
		return nil, fmt.Errorf("exported Plugin is %s, want a variable of type opa.Plugin: declare `var Plugin = opa.Plugin{...}` in package main", symbolType(sym))
	}
}

// openedFiles remembers, for the life of the process, the Plugin that each
// .so file gave, by its stage.Key. Go opens a plugin once and never closes
// it: a Manager started after another in the same process (Shutdown, then
// a new Startup) gets the Plugin already opened for the same, unchanged
// file, as plugin.Open of a path opened before does, and not a fresh copy
// that the runtime would refuse as already loaded. It remembers a file
// whose init panicked too: the runtime never finishes opening such a
// file, and a second plugin.Open of its path waits for ever.
var openedFiles sync.Map // stage.Key → opened

// opened is what opening a file gave: its Plugin, or the error of its
// init's panic, worded for a later open.
type opened struct {
	plugin *Plugin
	err    error
}

// openStaged opens a staged .so file (see lookupPlugin), or returns what
// the same file gave before in this process.
func openStaged(file *stage.File, source string) (*Plugin, error) {
	key, ok := file.Key()
	if ok {
		if o, found := openedFiles.Load(key); found {
			return o.(opened).plugin, o.(opened).err
		}
	}
	p, err := lookupPlugin(file.Path, source)
	switch _, panicked := errors.AsType[*PanicError](err); {
	case !ok:
	case err == nil:
		openedFiles.Store(key, opened{plugin: p})
	case panicked:
		openedFiles.Store(key, opened{err: fmt.Errorf("%w; Go cannot open this file again in this process (its init did not finish): fix the plugin, then restart the host", err)})
	}
	return p, err
}

// explainOpenError turns the plugin package's messages into plain words
// with a fix, keeping the original text.
func explainOpenError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, `symbol Plugin not found`):
		return errors.New("no exported symbol Plugin: declare `var Plugin = opa.Plugin{...}` in the plugin's package main")
	case strings.Contains(msg, "plugin was built with a different version of package"):
		pkg := msg[strings.LastIndex(msg, " ")+1:]
		return errors.New("the plugin and this host were built differently (package " + pkg +
			" differs): build the plugin with the host's Go version, flags (-race, -trimpath, tags) and module versions [" + msg + "]")
	case strings.Contains(msg, "plugin already loaded"):
		return errors.New("a plugin built from the same main package is already loaded (a copy under another name?): remove one of them [" + msg + "]")
	}
	return err
}

// symbolType describes what Lookup returned: a pointer to a variable of type
// T shows as "a variable of type T", anything else as its type.
func symbolType(sym any) string {
	t := reflect.TypeOf(sym)
	if t.Kind() == reflect.Pointer {
		return "a variable of type " + t.Elem().String()
	}
	return "a " + t.String()
}

// loadPlugins plans the load pass (see plan), with private copies unless
// PLUGIN_OPEN_IN_PLACE is set, and opens each plugin the plan chooses, in
// order, as soon as it is chosen: the checks and copies of later plugins
// go on in the background meanwhile. With PLUGIN_ON_ERROR=skip a plugin
// that fails is left out; otherwise every failure is returned, joined.
func (m *Manager) loadPlugins(rep *Report) ([]*loaded, error) {
	if m.cfg.OpenInPlace {
		m.warn(rep, inPlaceWarning)
	}
	var out []*loaded
	errs, err := m.plan(rep, CurrentHost(), !m.cfg.OpenInPlace, func(d *decision) error {
		lp, err := m.open(d)
		if lp != nil {
			out = append(out, lp)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 && !m.skipping() {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// decision is what the plan decided for one candidate: its report, and for
// a chosen .so plugin the file to open (its private copy, or the file).
type decision struct {
	c      *candidate
	index  int // of pr in the Report's Plugins
	pr     PluginReport
	file   *stage.File // a chosen .so plugin's; nil otherwise
	chosen bool        // every check passed: Startup opens it
	err    error       // why it failed, a *PluginError
	opened string      // how file is opened (PluginReport.Opened)
}

// plan makes the load pass's decisions: discovery, meta.json, the filters,
// opa.lock, the private copies (when copies is set; else files are checked
// in place) and every check, one decision per candidate, in order, each
// recorded in rep. It opens nothing itself: do, when not nil, is called
// with each chosen decision as soon as it is made (Startup opens the
// plugin there; an error it returns fails that plugin, at step "open").
// host is the binary the plugins are checked against (see Explain). errs
// are the failures of the candidates, every one (the caller decides what
// PLUGIN_ON_ERROR=skip leaves out); err is a failure of the whole pass
// (unreadable settings, a plugin path or opa.lock that cannot be read, no
// directory for the copies).
func (m *Manager) plan(rep *Report, host *Host, copies bool, do func(*decision) error) (errs []error, err error) {
	for _, w := range m.cfg.warnings { // the settings files', first
		m.warn(rep, w)
	}
	f, err := newFilters(m.cfg)
	if err != nil {
		return nil, err
	}
	paths := searchPaths(m.cfg)
	m.log.Info("opa: plugin loading settings", "paths", paths,
		"whitelist_list", m.cfg.WhitelistList, "whitelist_re", m.cfg.WhitelistRE, "whitelist_tags", m.cfg.WhitelistTags,
		"blacklist_list", m.cfg.BlacklistList, "blacklist_re", m.cfg.BlacklistRE, "blacklist_tags", m.cfg.BlacklistTags)
	cands, missing, err := discover(paths, m.cfg.defaultPath(), m.allBuiltins())
	if err != nil {
		return nil, err
	}
	// Skipped silently (behaviour.md), but not unseen: the report lists
	// them, except the default path, which is often absent on purpose.
	rep.MissingPaths = slices.DeleteFunc(missing, func(dir string) bool { return dir == m.cfg.defaultPath() })
	rep.Plugins = slices.Grow(rep.Plugins, len(cands))
	run := newCheckRun(host)
	run.opening = do != nil
	run.perm, run.permOpened, run.permOpen = m.cfg.permissionCheckers()
	run.stage = newStaging(copies, m.cfg.OpenInPlace, m.cfg.copyBases(), run.process.Fetch, len(cands))
	defer func() {
		if err := run.stage.finish(); err != nil {
			m.log.Warn("opa: removing the private copies of plugins", "error", err)
		}
	}()
	if m.cfg.IgnoreLock { // not read: a broken opa.lock is what the setting is for
		m.warn(rep, lockIgnoredWarning)
	} else if run.locks, err = readLocks(paths, run.permOpen); err != nil {
		return nil, err
	}
	if err := m.prefetch(cands, f, run); err != nil {
		return nil, err
	}
	pinNotes := m.strayPins(cands, rep)
	m.lockOverrides(cands, run.locks, rep)
	for _, c := range cands {
		d := m.decide(c, f, run)
		d.index = len(rep.Plugins)
		if d.chosen && do != nil {
			if err := do(d); err != nil {
				d.fail(m, "open", fmt.Errorf("%s: %w", c.file, err))
			}
		}
		if note := pinNotes[c.name]; note != "" && c.shadowed == "" { // notes name winning .so files only
			d.pr.Note = addNote(d.pr.Note, note)
		}
		rep.Plugins = append(rep.Plugins, d.pr)
		if d.err != nil {
			errs = append(errs, d.err)
		}
	}
	errs = append(errs, m.missingLocked(cands, run.locks, rep)...)
	m.warnTagTypos(f, rep)
	if exact, why := run.process.Exact(); exact {
		rep.BuildCheck = "package hashes, as plugin.Open decides"
	} else {
		rep.BuildCheck = why
	}
	if len(cands) == 0 {
		m.log.Info("opa: no plugins found", "paths", paths)
	}
	return errs, nil
}

// warnTagTypos warns of each tag a TAGS filter names that no plugin found
// has, when one found has a near tag (see filters.tagTypos).
func (m *Manager) warnTagTypos(f *filters, rep *Report) {
	if len(f.whitelistTags) == 0 && len(f.blacklistTags) == 0 {
		return
	}
	var found []string
	for _, p := range rep.Plugins {
		for _, tag := range p.Tags {
			if !slices.Contains(found, tag) {
				found = append(found, tag)
			}
		}
	}
	for _, t := range f.tagTypos(found) {
		m.warn(rep, fmt.Sprintf("%s names the tag %q, which no plugin found has (did you mean %q? tags compare exactly)", t.setting, t.tag, t.near))
	}
}

// warn records a warning about the settings in rep.Warnings and logs it as
// a WARN line.
func (m *Manager) warn(rep *Report, warning string) {
	rep.Warnings = append(rep.Warnings, warning)
	m.log.Warn("opa: " + warning)
}

// prefetch reads every .so candidate's meta.json (kept in run for decide)
// and starts staging, in the background, every one the filters will
// choose: its private copy, its SHA-256 if pinned, and its package hashes,
// so that the checks of later plugins overlap with opening earlier ones. It
// only reads and copies files; every decision is still decide's. Its error
// is a private directory that cannot be made.
func (m *Manager) prefetch(cands []*candidate, f *filters, run *checkRun) error {
	for _, c := range cands {
		if c.builtin != nil || c.shadowed != "" {
			continue
		}
		meta, err := readMeta(c.metaFile, run.permOpen)
		run.metas[c] = metaResult{meta, err}
		if err != nil || f.check(c.match, meta.Tags) != "" || c.badName != nil || !soSupported {
			continue
		}
		if err := run.stage.start(c, m.hashed(c, run), run.perm); err != nil {
			return err
		}
	}
	return nil
}

// hashed says whether candidate c's SHA-256 is computed as its file is
// staged: when it has a PLUGIN_SHA256 pin, or must have one, or its folder
// has an opa.lock that is enforced. Other files are not hashed: reading a
// whole file costs about as much as opening it (BENCHMARKS.md).
func (m *Manager) hashed(c *candidate, run *checkRun) bool {
	_, ok := preflight.Pin(m.cfg.PluginSHA256, c.name)
	return ok || m.cfg.RequireSHA256 || m.lockOf(c, run.locks) != nil
}

// decide reads a candidate's meta, runs the filters and, for a .so file,
// opa.lock and the checks on its staged file; it opens nothing. A chosen
// decision's report says Loaded: "Startup opens it".
func (m *Manager) decide(c *candidate, f *filters, run *checkRun) *decision {
	d := &decision{c: c, pr: PluginReport{Name: c.name, Path: c.match, File: c.file, Builtin: c.builtin != nil, Tags: []string{}}}
	if c.shadowed != "" {
		return d.skip(m, "shadowed by "+c.shadowed)
	}
	var meta Meta
	var metaErr error
	if c.builtin != nil {
		meta.Tags = c.builtin.tags
	} else {
		r := run.metas[c] // read by prefetch
		meta, metaErr = r.meta, r.err
	}
	if meta.Tags != nil {
		d.pr.Tags = meta.Tags
	}
	d.pr.Meta = meta.Extra
	// A meta.json that cannot be read is an error for every candidate, as in
	// opa-stack, whether or not a filter would drop the plugin: its tags are
	// unknown, so no tag filter can be trusted to decide.
	if metaErr != nil {
		return d.fail(m, "meta", metaErr)
	}
	if no := f.check(c.match, meta.Tags); no != "" {
		if white, _ := f.misnamed(c.match, c.name); len(white) > 0 {
			no += ". " + strings.Join(white, ". ")
		}
		return d.skip(m, no)
	}
	if _, black := f.misnamed(c.match, c.name); len(black) > 0 {
		d.pr.Note = strings.Join(black, ". ")
		m.log.Warn("opa: a filter names the plugin, not its match string", "plugin", c.name, "path", c.match, "note", d.pr.Note)
	}
	if c.badName != nil {
		return d.fail(m, "name", fmt.Errorf("%s: %w: rename it", c.file, c.badName))
	}
	if c.builtin == nil && run.opening && !soSupported {
		return d.fail(m, "open", fmt.Errorf("%s: %w: %s", c.file, ErrUnsupported, soUnsupportedReason))
	}
	if c.builtin == nil {
		file, err := run.stage.wait(c, m.hashed(c, run))
		if err != nil {
			step, err := stageStep(err)
			return d.fail(m, step, err)
		}
		d.file, d.opened = file, run.stage.opened(file)
		d.pr.SHA256 = sumHex(file.SHA256)
		info, step, err := m.preflight(c, run, file)
		if err != nil {
			return d.fail(m, step, err)
		}
		if mod := preflight.MainModule(info); mod != nil {
			d.pr.Module, d.pr.Version = mod.Path, mod.Version
		}
	}
	d.chosen, d.pr.Loaded = true, true
	return d
}

// skip records that the filters (or shadowing) left the candidate out.
func (d *decision) skip(m *Manager, reason string) *decision {
	d.pr.Reason = reason
	m.log.Info("opa: plugin skipped", "plugin", d.c.name, "path", d.c.match, "reason", reason)
	return d
}

// fail records that the candidate failed at step, with a *PluginError.
func (d *decision) fail(m *Manager, step string, err error) *decision {
	perr := &PluginError{Plugin: d.c.name, Path: d.c.match, Step: step, Err: err}
	d.chosen, d.err = false, perr
	d.pr.Loaded, d.pr.Reason, d.pr.Step, d.pr.Opened = false, perr.Error(), step, ""
	if m.skipping() { // else the error is returned: the host logs it, once
		m.log.Warn("opa: plugin left out (PLUGIN_ON_ERROR=skip)", "plugin", d.c.name, "path", d.c.match, "step", step, "error", err)
	}
	return d
}

// open opens a chosen decision's plugin: a compiled-in one is taken as it
// is, a .so file is opened (see openStaged). The report records how.
func (m *Manager) open(d *decision) (*loaded, error) {
	p := &Plugin{}
	if d.c.builtin != nil {
		*p = d.c.builtin.plugin
	} else {
		var err error
		if p, err = openStaged(d.file, d.c.file); err != nil {
			return nil, err
		}
		d.pr.Opened = d.opened
	}
	for _, t := range p.Tasks {
		d.pr.Tasks = append(d.pr.Tasks, t.Kind)
	}
	m.log.Info("opa: plugin loaded", "plugin", d.c.name, "path", d.c.match, "tags", d.pr.Tags)
	return &loaded{name: d.c.name, match: d.c.match, plugin: p, report: d.index}, nil
}

// allBuiltins returns the plugins given to Register and WithPlugin, sorted
// by name; WithPlugin hides a registered plugin of the same name.
func (m *Manager) allBuiltins() []namedRegistration {
	out := registeredPlugins()
	for _, b := range m.builtins {
		i := slices.IndexFunc(out, func(r namedRegistration) bool { return r.name == b.name })
		if i >= 0 {
			out[i] = b
		} else {
			out = append(out, b)
		}
	}
	slices.SortStableFunc(out, func(a, b namedRegistration) int { return strings.Compare(a.name, b.name) })
	return out
}
