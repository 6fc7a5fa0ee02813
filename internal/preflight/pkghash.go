package preflight

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// How plugin.Open decides that a plugin "was built with a different version
// of package P" (Go 1.26; read from cmd/link/internal/ld/symtab.go,
// runtime/plugin.go and plugin/plugin_dlopen.go):
//
//   - The linker gives every package linked into a plugin, and into an
//     executable that can load plugins (it links package plugin, with cgo),
//     two dynamic symbols: go:link.pkghashbytes.P, the 8-byte fingerprint of
//     P's export data (API, inlinable bodies, file positions), and the
//     string header go:link.pkghash.P pointing at those bytes.
//   - A plugin's module data lists every package linked into it, with the
//     fingerprint seen at link time and a pointer to go:link.pkghash.P. The
//     pointer is a dynamic relocation, and dlopen runs with RTLD_GLOBAL, so
//     it binds to the first definition loaded: the executable's, then those
//     of plugins opened before, and only then the plugin's own.
//   - The runtime walks that list in order and refuses the plugin at the
//     first package whose two fingerprints differ.
//
// So every package of a plugin is compared with the first loaded module
// that links it too, and a package no loaded module has never conflicts.
// Reading the symbols gives the same verdict before dlopen. (Which package
// the runtime names first depends on its list's order; the verdict does
// not.)

const (
	hashBytesPrefix  = "go:link.pkghashbytes."
	hashHeaderPrefix = "go:link.pkghash."
)

// ErrNoHashes means a file exports no package hashes: not a Go plugin, or an
// executable that cannot load plugins (built without cgo, or not linking
// package plugin), or a toolchain that does not write them.
var ErrNoHashes = errors.New("exports no Go package hashes")

// Packages is what one binary, executable or plugin, exports of the
// packages linked into it.
type Packages struct {
	// Hashes maps the import path of every package linked in to its
	// fingerprint, in hex.
	Hashes map[string]string
}

// ReadPackages reads the package hashes a binary exports. It works on
// stripped files (-ldflags=-s keeps the dynamic symbols), PIE executables
// and /proc/self/exe. A file without hashes gives an error wrapping
// ErrNoHashes.
//
// A Go plugin or host exports tens of thousands of dynamic symbols, so the
// symbol table is scanned in place for the few hash symbols rather than
// decoded whole (debug/elf's DynamicSymbols takes some 20 ms a plugin).
func ReadPackages(file string) (*Packages, error) {
	osf, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer osf.Close()
	st, err := osf.Stat()
	if err != nil {
		return nil, err
	}
	f, err := elf.NewFile(osf)
	if err != nil {
		return nil, err
	}
	symtab := f.SectionByType(elf.SHT_DYNSYM)
	if symtab == nil || int(symtab.Link) >= len(f.Sections) {
		return nil, ErrNoHashes
	}
	data, unmap, err := mapFile(osf, st.Size())
	if err != nil {
		return nil, err
	}
	defer unmap()
	section := func(s *elf.Section) ([]byte, error) {
		if s.Type == elf.SHT_NOBITS || s.Offset > uint64(len(data)) || s.Size > uint64(len(data))-s.Offset {
			return nil, fmt.Errorf("section %s lies outside the file", s.Name)
		}
		return data[s.Offset : s.Offset+s.Size], nil
	}
	syms, err := section(symtab)
	if err != nil {
		return nil, err
	}
	strs, err := section(f.Sections[symtab.Link])
	if err != nil {
		return nil, err
	}
	entry := 24 // Elf64_Sym: name(4) info(1) other(1) shndx(2) value(8) size(8)
	if f.Class == elf.ELFCLASS32 {
		entry = 16 // Elf32_Sym: name(4) value(4) size(4) info(1) other(1) shndx(2)
	}
	prefix := []byte(hashBytesPrefix)
	p := &Packages{Hashes: map[string]string{}}
	for off := entry; off+entry <= len(syms); off += entry { // entry 0 is the null symbol
		e := syms[off : off+entry]
		name := f.ByteOrder.Uint32(e)
		if int(name) >= len(strs) || !bytes.HasPrefix(strs[name:], prefix) {
			continue
		}
		var shndx uint16
		var value, size uint64
		if f.Class == elf.ELFCLASS32 {
			value, size, shndx = uint64(f.ByteOrder.Uint32(e[4:])), uint64(f.ByteOrder.Uint32(e[8:])), f.ByteOrder.Uint16(e[14:])
		} else {
			shndx, value, size = f.ByteOrder.Uint16(e[6:]), f.ByteOrder.Uint64(e[8:]), f.ByteOrder.Uint64(e[16:])
		}
		full := strs[name:]
		if end := bytes.IndexByte(full, 0); end >= 0 {
			full = full[:end]
		}
		if shndx == uint16(elf.SHN_UNDEF) || int(shndx) >= len(f.Sections) || size == 0 || size > 64 {
			continue
		}
		sect := f.Sections[shndx]
		b, err := section(sect)
		if err != nil || value < sect.Addr || value-sect.Addr > uint64(len(b)) || size > uint64(len(b))-(value-sect.Addr) {
			continue
		}
		at := value - sect.Addr
		p.Hashes[string(full[len(prefix):])] = hex.EncodeToString(b[at : at+size])
	}
	if len(p.Hashes) == 0 {
		return nil, ErrNoHashes
	}
	return p, nil
}

// readFile reads all of f, of size bytes.
func readFile(f *os.File, size int64) ([]byte, func(), error) {
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	return b, func() {}, nil
}

// Loaded is a binary whose packages are bound in a process: the host
// executable, or a plugin opened before.
type Loaded struct {
	Name     string // "the host", or "plugin NAME"
	File     string
	Packages *Packages
}

// Conflict is a package whose fingerprint in a plugin differs from the one
// already loaded: plugin.Open refuses the plugin with "plugin was built with
// a different version of package Package".
type Conflict struct {
	Package string
	Holder  *Loaded // the loaded binary whose copy is bound
}

// Conflicts returns every package of p whose fingerprint differs from the
// first of loaded (in load order) that links it, those of modules first
// and each group sorted, so that the first names the package a person
// can act on (the runtime names the first in its own order, often an
// internal package of the standard library). None means plugin.Open finds
// no package conflict.
func Conflicts(loaded []*Loaded, p *Packages) []Conflict {
	var out []Conflict
	for pkg, h := range p.Hashes {
		for _, l := range loaded {
			lh, ok := l.Packages.Hashes[pkg]
			if !ok {
				continue
			}
			if lh != h {
				out = append(out, Conflict{Package: pkg, Holder: l})
			}
			break
		}
	}
	slices.SortFunc(out, func(a, b Conflict) int {
		if sa, sb := isStd(a.Package), isStd(b.Package); sa != sb {
			if sa {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Package, b.Package)
	})
	return out
}

// isStd says whether an import path is of the standard library (its first
// element has no dot).
func isStd(pkg string) bool {
	first, _, _ := strings.Cut(pkg, "/")
	return !strings.Contains(first, ".")
}
