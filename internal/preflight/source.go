package preflight

import (
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"io"
	"maps"
	"math"
	"path"
	"slices"
	"strings"
)

// Where a binary compiled a package from is in its line table, which stays
// in stripped files: an absolute directory, or "module@version/dir" for a
// -trimpath build. Without -trimpath that directory is part of the
// package's hash, so two binaries that compiled one package from two
// directories cannot load together; with -trimpath the version is.

// lineTable is a binary's Go line table, or nil where it has none.
type lineTable struct {
	tab *gosym.Table
}

// readLineTable reads file's line table. It gives no table, never a
// crash or an allocation beyond a few times the file's size, for a damaged
// file: debug/gosym takes the function count from the file as an
// allocation size, so pclnSane bounds it first, and a panic of debug/elf
// or debug/gosym is recovered.
func readLineTable(file string) lineTable {
	f, st, err := OpenFile(file)
	if err != nil {
		return lineTable{}
	}
	defer f.Close()
	return lineTableOf(f, st.Size())
}

// lineTableOf does readLineTable's work on r, of size bytes.
func lineTableOf(r io.ReaderAt, size int64) (t lineTable) {
	defer func() {
		if recover() != nil {
			t = lineTable{}
		}
	}()
	ef, err := elf.NewFile(r)
	if err != nil {
		return lineTable{}
	}
	pcln, text := ef.Section(".gopclntab"), ef.Section(".text")
	if pcln == nil || text == nil || !inFile(pcln, size) || pcln.Size > math.MaxInt {
		return lineTable{}
	}
	data := make([]byte, pcln.Size) // inFile: at most the file's size
	if readFull(r, data, pcln.Offset, pcln.Name) != nil || !pclnSane(data) {
		return lineTable{}
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return lineTable{}
	}
	return lineTable{tab}
}

// Every function takes at least minFuncBytes of a line table: its entry in
// the function table (two 4-byte fields since Go 1.18, two pointers
// before) and its _func record (over 40 bytes in every Go release).
const minFuncBytes = 8 + 32

// pclnSane checks the counts in a Go line table's header against its size
// before debug/gosym allocates by them: the function count (at offset 8
// in every format since Go 1.2) and, since Go 1.16, the file count that
// follows it. Each is a pointer-sized word.
func pclnSane(data []byte) bool {
	if len(data) < 16 {
		return false
	}
	ptr := int(data[7])
	if ptr != 4 && ptr != 8 || len(data) < 8+2*ptr {
		return false
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if binary.BigEndian.Uint32(data)&0xfffffff0 == 0xfffffff0 {
		bo = binary.BigEndian // every magic number since Go 1.2 is 0xfffffffX
	}
	const go12Magic = 0xfffffffb // before Go 1.16: no file count, the function table follows
	word := func(off int) uint64 {
		if ptr == 4 {
			return uint64(bo.Uint32(data[off:]))
		}
		return bo.Uint64(data[off:])
	}
	size := uint64(len(data))
	return word(8) <= size/minFuncBytes && (bo.Uint32(data) == go12Magic || word(8+ptr) <= size)
}

// files returns the Go files that the functions of pkg come from.
func (t lineTable) files(pkg string) []string {
	if t.tab == nil {
		return nil
	}
	var out []string
	for i := range t.tab.Funcs {
		fn := &t.tab.Funcs[i]
		if fn.PackageName() != pkg {
			continue
		}
		if file, _, _ := t.tab.PCToLine(fn.Entry); path.Ext(file) == ".go" {
			out = append(out, file)
		}
	}
	return out
}

// dir says where the binary compiled pkg from: the directory of most of its
// functions' files, or, where the linker kept none of its functions (a
// plugin that only inlines a few), the directory holding most of names (the
// base names of the package's files, as another binary has them) among all
// the files the table knows, inlined ones included. "" when unknown.
func (t lineTable) dir(pkg string, names []string) string {
	if t.tab == nil {
		return ""
	}
	count := map[string]int{}
	for _, f := range t.files(pkg) {
		count[path.Dir(f)]++
	}
	if len(count) == 0 {
		for f := range t.tab.Files {
			if slices.Contains(names, path.Base(f)) {
				count[path.Dir(f)]++
			}
		}
	}
	if len(count) == 0 {
		return ""
	}
	return slices.MaxFunc(slices.Sorted(maps.Keys(count)), func(a, b string) int { return count[a] - count[b] })
}

// SourceDirs says where each of two binaries compiled pkg from (see
// lineTable.dir); "" where unknown.
func SourceDirs(a, b, pkg string) (string, string) {
	return sourceDirs(readLineTable(a), readLineTable(b), pkg)
}

// sourceDirs does SourceDirs' work on two line tables.
func sourceDirs(ta, tb lineTable, pkg string) (da, db string) {
	defer func() { // a damaged line table explains nothing, and crashes nothing
		if recover() != nil {
			da, db = "", ""
		}
	}()
	var names []string
	for _, f := range append(ta.files(pkg), tb.files(pkg)...) {
		if n := path.Base(f); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return ta.dir(pkg, names), tb.dir(pkg, names)
}

// ModuleDir says from which local directory a binary built the module
// modPath, read from where it compiled the module's packages: "" when the
// binary was built with -trimpath (the directory is not recorded), or links
// no function of the module. A function of the module may start in another
// package's file (a closure inlined from maps.Keys, say, is named after the
// function it is in), so the directory most of its functions agree on wins.
func ModuleDir(file, modPath string) string {
	return readLineTable(file).moduleDir(modPath)
}

// moduleDir does ModuleDir's work on a line table.
func (t lineTable) moduleDir(modPath string) (best string) {
	defer func() { // a damaged line table tells nothing, and crashes nothing
		if recover() != nil {
			best = ""
		}
	}()
	if t.tab == nil {
		return ""
	}
	votes := map[string]int{}
	for i := range t.tab.Funcs {
		fn := &t.tab.Funcs[i]
		pkg := fn.PackageName()
		sub, ok := strings.CutPrefix(pkg, modPath)
		if !ok || (sub != "" && !strings.HasPrefix(sub, "/")) {
			continue
		}
		f, _, _ := t.tab.PCToLine(fn.Entry)
		if path.Ext(f) != ".go" || !path.IsAbs(f) {
			continue
		}
		if dir, ok := strings.CutSuffix(path.Dir(f), sub); ok && dir != "" {
			votes[dir]++
			if votes[dir] > votes[best] {
				best = dir
			}
		}
	}
	return best
}
