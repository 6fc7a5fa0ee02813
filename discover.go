package opa

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// candidate is one plugin found by discovery: a .so file, a plugin directory,
// or a plugin compiled in with Register.
type candidate struct {
	name     string
	match    string        // "<search path>/<name>": what LIST and RE filters see
	dir      string        // the search path it was found in
	file     string        // the .so file; "" for a compiled-in plugin
	metaFile string        // the meta.json sidecar; "" for a compiled-in plugin
	builtin  *registration // non-nil for a compiled-in plugin
	shadowed string        // the match string of the same-named candidate that won
	badName  error         // why its name cannot be a plugin's (a leading hyphen): reported, never opened
}

// SearchPaths returns the paths discovery searches, in order: PluginPaths
// without duplicates (the first kept), then the default path.
func (c Config) SearchPaths() []string { return searchPaths(c) }

// searchPaths returns the configured paths without duplicates (first kept),
// then the default path.
func searchPaths(c Config) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range append(append([]string(nil), c.PluginPaths...), c.defaultPath()) {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out
}

// matchString joins a search path and a plugin name as Python's os.path.join
// does: the path is kept exactly as configured.
func matchString(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

// discover lists every candidate in every path, in path order and sorted by
// name within a path. The compiled-in plugins live in the default path: they
// take their place among its plugins by name (after a file of the same name,
// which wins), wherever the default path comes in the search order. The
// first candidate of a name wins; later ones are returned too, marked as
// shadowed. A path that does not exist is skipped, as in opa-stack, and
// returned in missing; one that cannot be read is an error.
func discover(paths []string, defaultPath string, builtins []namedRegistration) (cands []*candidate, missing []string, err error) {
	found := make([][]*candidate, len(paths))
	total := len(builtins)
	for i, dir := range paths {
		var exists bool
		if found[i], exists, err = scanDir(dir); err != nil {
			return nil, nil, err
		}
		if !exists {
			missing = append(missing, dir)
		}
		total += len(found[i])
	}
	out := make([]*candidate, 0, total)
	winner := make(map[string]*candidate, total)
	add := func(c *candidate) {
		if w, ok := winner[c.name]; ok {
			c.shadowed = w.match
		} else {
			winner[c.name] = c
		}
		out = append(out, c)
	}
	placed := false
	for i, cs := range found {
		if !placed && paths[i] == defaultPath {
			cs, placed = withBuiltins(cs, defaultPath, builtins), true
		}
		for _, c := range cs {
			add(c)
		}
	}
	if !placed {
		for _, c := range withBuiltins(nil, defaultPath, builtins) {
			add(c)
		}
	}
	return out, missing, nil
}

// withBuiltins merges the compiled-in plugins (sorted by name) into the
// candidates of the default path, by name; a file of the same name comes
// first, so it wins.
func withBuiltins(files []*candidate, defaultPath string, builtins []namedRegistration) []*candidate {
	out := make([]*candidate, 0, len(files)+len(builtins))
	i := 0
	for _, b := range builtins {
		for i < len(files) && files[i].name <= b.name {
			out = append(out, files[i])
			i++
		}
		out = append(out, &candidate{name: b.name, match: matchString(defaultPath, b.name), builtin: &b.registration})
	}
	return append(out, files[i:]...)
}

// scanDir lists the candidates of one search path, sorted by entry name,
// and says whether the path exists.
func scanDir(dir string) ([]*candidate, bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("opa: plugin path %s: %w (fix the path in PLUGIN_PATHS, or its permissions)", dir, err)
	}
	out := make([]*candidate, 0, len(entries))
	for _, e := range entries {
		if c := candidateOf(dir, e); c != nil {
			out = append(out, c)
		}
	}
	return out, true, nil
}

// candidateOf says whether a directory entry is a plugin: NAME.so (a
// single-file plugin) or a directory NAME holding plugin.so. Hidden names and
// names with a dot are not plugins. A NAME.so that turns out not to be a
// regular file is still a candidate, so the operator is told why it did not
// load; so is one whose name cannot be a plugin's for another reason (a
// leading hyphen).
func candidateOf(dir string, e fs.DirEntry) *candidate {
	entry := e.Name()
	if strings.HasPrefix(entry, ".") {
		return nil
	}
	if name, ok := strings.CutSuffix(entry, ".so"); ok {
		if strings.Contains(name, ".") {
			return nil
		}
		return &candidate{
			name:     name,
			dir:      dir,
			match:    matchString(dir, name),
			file:     filepath.Join(dir, entry),
			metaFile: filepath.Join(dir, name+"-meta.json"),
			badName:  checkName(name),
		}
	}
	if strings.Contains(entry, ".") || !isDir(dir, e) {
		return nil
	}
	so := filepath.Join(dir, entry, "plugin.so")
	if _, err := os.Lstat(so); err != nil {
		return nil
	}
	return &candidate{
		name:     entry,
		dir:      dir,
		match:    matchString(dir, entry),
		file:     so,
		metaFile: filepath.Join(dir, entry, "meta.json"),
		badName:  checkName(entry),
	}
}

// isDir follows a symlink to say whether an entry is a directory.
func isDir(dir string, e fs.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	fi, err := os.Stat(filepath.Join(dir, e.Name()))
	return err == nil && fi.IsDir()
}
