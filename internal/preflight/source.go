package preflight

import (
	"debug/elf"
	"debug/gosym"
	"maps"
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

func readLineTable(file string) lineTable {
	f, err := elf.Open(file)
	if err != nil {
		return lineTable{}
	}
	defer f.Close()
	pcln, text := f.Section(".gopclntab"), f.Section(".text")
	if pcln == nil || text == nil {
		return lineTable{}
	}
	data, err := pcln.Data()
	if err != nil {
		return lineTable{}
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return lineTable{}
	}
	return lineTable{tab}
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
	ta, tb := readLineTable(a), readLineTable(b)
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
	t := readLineTable(file)
	if t.tab == nil {
		return ""
	}
	votes := map[string]int{}
	best := ""
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
