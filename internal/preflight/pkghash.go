package preflight

import (
	"bytes"
	"cmp"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go/internal/bufpool"
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
// and /proc/self/exe. A file without hashes, or not an ELF file at all,
// gives an error wrapping ErrNoHashes; a file that is damaged, or changes
// while it is read, gives another error, never a fault.
//
// A Go plugin or host exports tens of thousands of dynamic symbols, so the
// symbol table is scanned for the few hash symbols rather than decoded
// whole (debug/elf's DynamicSymbols takes some 20 ms a plugin). The file is
// read with ReadAt through a buffer of a fixed size, never mapped: a file
// truncated under a mapping kills the process with SIGBUS.
func ReadPackages(file string) (p *Packages, err error) {
	osf, st, err := OpenFile(file)
	if err != nil {
		return nil, err
	}
	defer osf.Close()
	defer func() { // debug/elf is fuzzed, but no file may crash the process
		if v := recover(); v != nil {
			p, err = nil, fmt.Errorf("a damaged ELF file (%v)", v)
		}
	}()
	return readPackages(osf, st.Size())
}

// hashChunk is the size of the buffer a symbol table and the hashes are
// read through.
const hashChunk = 64 << 10

// readPackages does ReadPackages' work on r, of size bytes.
func readPackages(r io.ReaderAt, size int64) (*Packages, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		if _, ok := errors.AsType[*elf.FormatError](err); ok && !isELF(r) {
			return nil, fmt.Errorf("not an ELF file: %w", ErrNoHashes)
		}
		return nil, err
	}
	symtab := f.SectionByType(elf.SHT_DYNSYM)
	if symtab == nil {
		return nil, ErrNoHashes
	}
	var found []hashSym
	bufp := bufpool.Get(hashChunk)
	defer bufpool.Put(bufp)
	buf := *bufp
	err = scanSymbols(r, size, f, symtab, []byte(hashBytesPrefix), buf, func(name []byte, sect *elf.Section, off, n uint64) {
		if n > 0 && n <= maxHashSize {
			found = append(found, hashSym{pkg: string(name[len(hashBytesPrefix):]), off: off, size: n, sect: sect.Name})
		}
	})
	if err != nil {
		return nil, err
	}
	p := &Packages{Hashes: make(map[string]string, len(found))}
	if err := readHashes(r, found, buf, p.Hashes); err != nil {
		return nil, err
	}
	if len(p.Hashes) == 0 {
		return nil, ErrNoHashes
	}
	return p, nil
}

// scanSymbols calls visit for each defined symbol of symtab whose name
// starts with prefix, with where its bytes lie in the file (n of them at
// off; 0 and 0 for a symbol whose section has no bytes in the file, of
// size bytes, such as .bss). The string table is read
// whole (a plugin's is about 1 MB, a host's a few; never more than the
// file), the symbol table through buf.
func scanSymbols(r io.ReaderAt, size int64, f *elf.File, symtab *elf.Section, prefix, buf []byte, visit func(name []byte, sect *elf.Section, off, n uint64)) error {
	if int(symtab.Link) >= len(f.Sections) {
		return fmt.Errorf("section %s has no string table", symtab.Name)
	}
	strtab := f.Sections[symtab.Link]
	for _, s := range []*elf.Section{symtab, strtab} {
		if !inFile(s, size) || s.Size > math.MaxInt {
			return fmt.Errorf("section %s lies outside the file (%d bytes)", s.Name, size)
		}
	}
	strsp := bufpool.Get(int(strtab.Size))
	defer bufpool.Put(strsp)
	strs := *strsp
	if err := readFull(r, strs, strtab.Offset, strtab.Name); err != nil {
		return err
	}
	entry := uint64(24) // Elf64_Sym: name(4) info(1) other(1) shndx(2) value(8) size(8)
	if f.Class == elf.ELFCLASS32 {
		entry = 16 // Elf32_Sym: name(4) value(4) size(4) info(1) other(1) shndx(2)
	}
	buf = buf[:uint64(len(buf))/entry*entry]
	for pos := uint64(0); pos+entry <= symtab.Size; pos += uint64(len(buf)) {
		n := min(uint64(len(buf)), symtab.Size-pos) / entry * entry
		chunk := buf[:n]
		if err := readFull(r, chunk, symtab.Offset+pos, symtab.Name); err != nil {
			return err
		}
		for off := uint64(0); off < n; off += entry {
			e := chunk[off : off+entry]
			name := uint64(f.ByteOrder.Uint32(e))
			if pos+off == 0 || name >= uint64(len(strs)) || !bytes.HasPrefix(strs[name:], prefix) { // entry 0 is the null symbol
				continue
			}
			full := strs[name:]
			if end := bytes.IndexByte(full, 0); end >= 0 {
				full = full[:end]
			}
			var shndx uint16
			var value, vsize uint64
			if f.Class == elf.ELFCLASS32 {
				value, vsize, shndx = uint64(f.ByteOrder.Uint32(e[4:])), uint64(f.ByteOrder.Uint32(e[8:])), f.ByteOrder.Uint16(e[14:])
			} else {
				shndx, value, vsize = f.ByteOrder.Uint16(e[6:]), f.ByteOrder.Uint64(e[8:]), f.ByteOrder.Uint64(e[16:])
			}
			if shndx == uint16(elf.SHN_UNDEF) || int(shndx) >= len(f.Sections) || vsize == 0 {
				continue
			}
			sect := f.Sections[shndx]
			if value < sect.Addr || value-sect.Addr > sect.Size || vsize > sect.Size-(value-sect.Addr) {
				continue
			}
			if !inFile(sect, size) {
				visit(full, sect, 0, 0) // in .bss, say: no bytes in the file
				continue
			}
			visit(full, sect, sect.Offset+(value-sect.Addr), vsize)
		}
	}
	return nil
}

// maxHashSize bounds the size of a hash symbol (8 bytes today).
const maxHashSize = 64

// hashSym is where in the file a package's hash lies.
type hashSym struct {
	pkg       string
	off, size uint64
	sect      string
}

// readHashes reads the hashes of syms into hashes, in hex, through buf: the
// linker writes them side by side, so a few reads get them all.
func readHashes(r io.ReaderAt, syms []hashSym, buf []byte, hashes map[string]string) error {
	slices.SortFunc(syms, func(a, b hashSym) int { return cmp.Compare(a.off, b.off) })
	var start, end uint64 // buf[:end-start] holds the file's bytes from start
	for _, s := range syms {
		if s.off < start || s.off+s.size > end {
			n, err := r.ReadAt(buf, int64(s.off)) // inFile: s.off fits an int64
			if uint64(n) < s.size {
				return readError(s.sect, err)
			}
			start, end = s.off, s.off+uint64(n)
		}
		hashes[s.pkg] = hex.EncodeToString(buf[s.off-start : s.off-start+s.size])
	}
	return nil
}

// inFile says whether section s has its bytes inside a file of size bytes.
func inFile(s *elf.Section, size int64) bool {
	return s.Type != elf.SHT_NOBITS && size >= 0 && s.Offset <= uint64(size) && s.Size <= uint64(size)-s.Offset
}

// readFull reads len(b) bytes at off of the section named sect, or says
// that the file ended early: it was cut, or is being rewritten.
func readFull(r io.ReaderAt, b []byte, off uint64, sect string) error {
	if off > math.MaxInt64 {
		return fmt.Errorf("section %s lies outside the file", sect)
	}
	n, err := r.ReadAt(b, int64(off))
	if n == len(b) {
		return nil
	}
	return readError(sect, err)
}

// readError says that the file ended before section sect did.
func readError(sect string, err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading section %s: %w (the file is shorter than its headers say: cut, or being rewritten?)", sect, err)
}

// isELF says whether r starts with the ELF magic number.
func isELF(r io.ReaderAt) bool {
	var magic [4]byte
	n, _ := r.ReadAt(magic[:], 0)
	return n == len(magic) && string(magic[:]) == elf.ELFMAG
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
