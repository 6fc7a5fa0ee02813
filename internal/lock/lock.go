// Package lock reads and writes opa.lock, the file that records which .so
// plugins a plugin folder holds: per plugin its name, file, SHA-256, the
// module and Go version it was built from, and the host it was built for.
// The opa command writes it (opa lock, opa add, opa remove); a host that
// finds one in a plugin folder loads from that folder only the files it
// names, with the SHA-256 it records.
//
// The file is indented JSON, its plugins sorted by name and its fields in a
// fixed order, so that two locks of the same folder are byte for byte the
// same and a change shows as a small diff.
package lock

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go/internal/preflight"
)

// FileName is the name of the lock file in a plugin folder.
const FileName = "opa.lock"

// MaxSize is the most bytes an opa.lock may have: some 200 bytes a plugin,
// so room for tens of thousands. Readers refuse a larger file unread.
const MaxSize = 16 << 20

// Version is the format version this package writes and reads.
const Version = 1

// File is the contents of an opa.lock.
type File struct {
	// LockVersion is the format version: Version.
	LockVersion int `json:"lock_version"`
	// Plugins are sorted by name; names are unique.
	Plugins []Entry `json:"plugins"`
}

// Entry is one plugin of a lock.
type Entry struct {
	Name string `json:"name"`
	// File is the plugin's file, relative to the folder, with slashes:
	// "NAME.so", or "NAME/plugin.so" for a directory plugin.
	File string `json:"file"`
	// SHA256 is the SHA-256 of the file, in lower-case hex.
	SHA256 string `json:"sha256"`
	// Module and ModuleVersion are the module of the plugin's main package
	// and its version, from the file's build information.
	Module        string `json:"module,omitempty"`
	ModuleVersion string `json:"module_version,omitempty"`
	// Go is the Go version that built it.
	Go string `json:"go,omitempty"`
	// Host is the host binary it was built and checked for, when known.
	Host *Host `json:"host,omitempty"`
}

// Host is the binary a plugin was built for.
type Host struct {
	BuildID string `json:"build_id,omitempty"` // its Go build ID
	Module  string `json:"module,omitempty"`   // its main module
	Version string `json:"version,omitempty"`  // the main module's version
}

// Find returns the entry of plugin name. A nil File has none.
func (f *File) Find(name string) (Entry, bool) {
	if f == nil {
		return Entry{}, false
	}
	i := slices.IndexFunc(f.Plugins, func(e Entry) bool { return e.Name == name })
	if i < 0 {
		return Entry{}, false
	}
	return f.Plugins[i], true
}

// Put adds e, replacing the entry of the same name, and keeps the entries
// sorted.
func (f *File) Put(e Entry) {
	f.Remove(e.Name)
	f.Plugins = append(f.Plugins, e)
	slices.SortFunc(f.Plugins, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
}

// Remove drops the entry of plugin name, if any.
func (f *File) Remove(name string) {
	f.Plugins = slices.DeleteFunc(f.Plugins, func(e Entry) bool { return e.Name == name })
}

// Marshal returns the file's bytes: indented JSON, plugins sorted by name,
// a final newline.
func (f *File) Marshal() []byte {
	out := File{LockVersion: Version, Plugins: slices.Clone(f.Plugins)}
	if out.Plugins == nil {
		out.Plugins = []Entry{}
	}
	slices.SortFunc(out.Plugins, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic("lock: " + err.Error()) // strings and ints only: cannot fail
	}
	return append(b, '\n')
}

// Parse reads a lock's bytes. Unknown fields, a version other than
// Version, an entry without a name, a file that is not NAME.so or
// NAME/plugin.so, a SHA-256 that is not 64 hex digits and a name given
// twice are errors, each naming the entry and saying how to fix it.
func Parse(data []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w (write it with opa lock DIR)", err)
	}
	if dec.More() {
		return nil, errors.New("invalid JSON: more than one value (write it with opa lock DIR)")
	}
	if f.LockVersion != Version {
		return nil, fmt.Errorf("lock_version is %d, this host reads version %d: write it with the opa command of this opa-go version (opa lock DIR)", f.LockVersion, Version)
	}
	seen := map[string]bool{}
	for i := range f.Plugins {
		e := &f.Plugins[i]
		if e.Name == "" {
			return nil, fmt.Errorf("plugin %d has no name: write the lock with opa lock DIR", i+1)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("plugin %s is listed twice: keep one entry", e.Name)
		}
		seen[e.Name] = true
		if e.File != e.Name+".so" && e.File != path.Join(e.Name, "plugin.so") {
			return nil, fmt.Errorf("plugin %s: file %q, want %q or %q", e.Name, e.File, e.Name+".so", e.Name+"/plugin.so")
		}
		sum, err := preflight.ParsePin(e.SHA256)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: sha256 %w: write the lock with opa lock DIR", e.Name, err)
		}
		e.SHA256 = hex.EncodeToString(sum) // as written: lower case, no spaces
	}
	return &f, nil
}
