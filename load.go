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
// that the runtime would refuse as already loaded.
var openedFiles sync.Map // stage.Key → *Plugin

// openStaged opens a staged .so file (see lookupPlugin), or returns the
// Plugin the same file gave before in this process.
func openStaged(file *stage.File, source string) (*Plugin, error) {
	key, ok := file.Key()
	if ok {
		if p, found := openedFiles.Load(key); found {
			return p.(*Plugin), nil
		}
	}
	p, err := lookupPlugin(file.Path, source)
	if err == nil && ok {
		openedFiles.Store(key, p)
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

// loadPlugins discovers every candidate, decides for each whether it loads,
// and opens the chosen ones, recording every decision in rep. Only chosen
// candidates are opened.
func (m *Manager) loadPlugins(rep *Report) ([]*loaded, error) {
	return m.choose(rep, false, CurrentHost())
}

// choose does the work of loadPlugins; with dry set it opens nothing, and
// compares build information with host's.
func (m *Manager) choose(rep *Report, dry bool, host *Host) ([]*loaded, error) {
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
	var out []*loaded
	var errs []error
	run := newCheckRun(host)
	run.perm, run.permOpened = m.cfg.permissionCheckers()
	run.stage = newStaging(!dry && !m.cfg.OpenInPlace, m.cfg.OpenInPlace, m.cfg.copyBases())
	if !dry && m.cfg.OpenInPlace {
		m.warn(rep, inPlaceWarning)
	}
	defer func() {
		if err := run.stage.finish(); err != nil {
			m.log.Warn("opa: removing the private copies of plugins", "error", err)
		}
	}()
	if run.locks, err = readLocks(paths, run.perm); err != nil {
		return nil, err
	}
	if m.cfg.IgnoreLock {
		m.warn(rep, lockIgnoredWarning)
	}
	if err := m.prefetch(cands, f, run); err != nil {
		return nil, err
	}
	pinNotes := m.strayPins(cands, rep)
	m.lockOverrides(cands, run.locks, rep)
	for _, c := range cands {
		pr, lp, err := m.decide(c, f, run, dry)
		if note := pinNotes[c.name]; note != "" && c.shadowed == "" { // notes name winning .so files only
			pr.Note = addNote(pr.Note, note)
		}
		rep.Plugins = append(rep.Plugins, pr)
		if err != nil && (dry || !m.skipping()) {
			errs = append(errs, err)
		}
		if lp != nil {
			out = append(out, lp)
		}
	}
	if missing := m.missingLocked(cands, run.locks, rep); len(missing) > 0 && (dry || !m.skipping()) {
		errs = append(errs, missing...)
	}
	m.warnTagTypos(f, rep)
	if exact, why := run.process.Exact(); exact {
		rep.BuildCheck = "package hashes, as plugin.Open decides"
	} else {
		rep.BuildCheck = why
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(cands) == 0 {
		m.log.Info("opa: no plugins found", "paths", paths)
	}
	return out, nil
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
		meta, err := readMeta(c.metaFile, run.perm)
		run.metas[c] = metaResult{meta, err}
		if err != nil || f.check(c.match, meta.Tags) != "" || c.badName != nil || !soSupported {
			continue
		}
		if err := run.stage.start(c, m.hashed(c, run), run.process.Fetch, run.perm); err != nil {
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

// decide reads a candidate's meta, runs the filters and, if chosen, opens it.
func (m *Manager) decide(c *candidate, f *filters, run *checkRun, dry bool) (PluginReport, *loaded, error) {
	pr := PluginReport{Name: c.name, Path: c.match, File: c.file, Builtin: c.builtin != nil, Tags: []string{}}
	skip := func(reason string) (PluginReport, *loaded, error) {
		pr.Reason = reason
		m.log.Info("opa: plugin skipped", "plugin", c.name, "path", c.match, "reason", reason)
		return pr, nil, nil
	}
	fail := func(step string, err error) (PluginReport, *loaded, error) {
		perr := &PluginError{Plugin: c.name, Path: c.match, Step: step, Err: err}
		pr.Reason, pr.Step = perr.Error(), step
		if m.skipping() { // else the error is returned: the host logs it, once
			m.log.Warn("opa: plugin left out (PLUGIN_ON_ERROR=skip)", "plugin", c.name, "path", c.match, "step", step, "error", err)
		}
		return pr, nil, perr
	}
	if c.shadowed != "" {
		return skip("shadowed by " + c.shadowed)
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
		pr.Tags = meta.Tags
	}
	pr.Meta = meta.Extra
	// A meta.json that cannot be read is an error for every candidate, as in
	// opa-stack, whether or not a filter would drop the plugin: its tags are
	// unknown, so no tag filter can be trusted to decide.
	if metaErr != nil {
		return fail("meta", metaErr)
	}
	if no := f.check(c.match, meta.Tags); no != "" {
		if white, _ := f.misnamed(c.match, c.name); len(white) > 0 {
			no += ". " + strings.Join(white, ". ")
		}
		return skip(no)
	}
	if _, black := f.misnamed(c.match, c.name); len(black) > 0 {
		pr.Note = strings.Join(black, ". ")
		m.log.Warn("opa: a filter names the plugin, not its match string", "plugin", c.name, "path", c.match, "note", pr.Note)
	}
	if c.badName != nil {
		return fail("name", fmt.Errorf("%s: %w: rename it", c.file, c.badName))
	}
	if c.builtin == nil && !dry && !soSupported {
		return fail("open", fmt.Errorf("%s: %w: %s", c.file, ErrUnsupported, soUnsupportedReason))
	}
	var file *stage.File
	if c.builtin == nil {
		var err error
		if file, err = run.stage.wait(c, m.hashed(c, run)); err != nil {
			return fail(stageStep(err))
		}
		pr.SHA256 = sumHex(file.SHA256)
		info, step, err := m.preflight(c, run, file)
		if err != nil {
			return fail(step, err)
		}
		if mod := preflight.MainModule(info); mod != nil {
			pr.Module, pr.Version = mod.Path, mod.Version
		}
	}
	if dry {
		pr.Loaded = true
		return pr, nil, nil
	}
	p := &Plugin{}
	if c.builtin != nil {
		*p = c.builtin.plugin
	} else {
		var err error
		if p, err = openStaged(file, c.file); err != nil {
			return fail("open", fmt.Errorf("%s: %w", c.file, err))
		}
		pr.Opened = run.stage.opened(file)
	}
	pr.Loaded = true
	for _, t := range p.Tasks {
		pr.Tasks = append(pr.Tasks, t.Kind)
	}
	m.log.Info("opa: plugin loaded", "plugin", c.name, "path", c.match, "tags", pr.Tags)
	return pr, &loaded{name: c.name, match: c.match, plugin: p}, nil
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
