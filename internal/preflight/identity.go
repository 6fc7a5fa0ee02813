package preflight

import (
	"debug/elf"
	"io"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go/internal/bufpool"
)

// Identity returns the key under which the Go runtime registers a
// plugin, as far as its build information tells, or "" if it cannot tell.
// Two .so files with the same identity cannot both load: the second fails
// with "plugin already loaded" (a copy of a plugin under another name).
//
// The runtime compares the linker's -pluginpath, not file names. go build
// sets it to the main package's import path, which is info.Path, unless:
//
//   - it was built with -ldflags=-pluginpath=X: then X is the key. go build
//     records -ldflags in the build settings (go version -m shows
//     "build -ldflags=-pluginpath=X"), so X is returned, but NOT when
//     -trimpath is also given (golang/go#52372: -ldflags is then left out),
//     and info.Path is returned although the runtime uses X;
//   - else, it was built from files (go build x.go): info.Path is
//     "command-line-arguments" for all of them, but each gets its own
//     "plugin/unnamed-<hash of its sources>", so "" is returned (FileIdentity
//     then reads the key from the file).
//
// The exact key is also in the ELF symbol go:link.thispluginpath (a string in
// .rodata) unless the file was stripped with -ldflags=-s; ELFPluginPath
// reads it. Checked with go1.26.8: a plugin of package example.com/tiny
// built plainly, with -pluginpath=custom/ident, and with both -trimpath and
// -pluginpath=custom/ident gives "example.com/tiny", "custom/ident" and
// "custom/ident" there, while its build info shows -ldflags only for the
// second.
func Identity(info *debug.BuildInfo) string {
	if info == nil || info.Path == "" {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == "-ldflags" {
			if pp := ldflagsPluginPath(s.Value); pp != "" {
				return pp
			}
		}
	}
	if info.Path == "command-line-arguments" {
		return ""
	}
	return info.Path
}

// FileIdentity returns the runtime's key for the plugin in file, built as
// info says: Identity, or where the build information cannot tell (a
// plugin built from a list of files), the key in the file itself
// (ELFPluginPath). "" means that neither tells: a plugin built from files
// and stripped with -ldflags=-s.
func FileIdentity(file string, info *debug.BuildInfo) string {
	if id := Identity(info); id != "" {
		return id
	}
	return ELFPluginPath(file)
}

// SameFile says whether a and b name the same file as plugin.Open keys
// it: the same absolute path once symbolic links are resolved (realpath).
// plugin.Open of the second returns the plugin opened from the first. A
// hard link is another path: the runtime refuses it as a copy ("plugin
// already loaded"), so SameFile says false.
func SameFile(a, b string) bool {
	ra, err := realPath(a)
	if err != nil {
		return false
	}
	rb, err := realPath(b)
	return err == nil && ra == rb
}

// realPath is file's absolute path with every symbolic link resolved.
func realPath(file string) (string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// ldflagsPluginPath finds -pluginpath in a recorded -ldflags value
// ("-s -w -pluginpath=x", "-pluginpath x", quoted or not); the last wins,
// as with the flag package.
func ldflagsPluginPath(ldflags string) string {
	fields := strings.Fields(ldflags)
	pp := ""
	for i, f := range fields {
		f = strings.Trim(f, `'"`)
		name, value, hasValue := strings.Cut(strings.TrimPrefix(f, "-"), "=")
		if name != "-pluginpath" && name != "pluginpath" {
			continue
		}
		if !hasValue && i+1 < len(fields) {
			value = fields[i+1]
		}
		pp = strings.Trim(value, `'"`)
	}
	return pp
}

// ELFPluginPath reads the runtime's exact key for the plugin in file from
// its ELF symbol go:link.thispluginpath. It returns "" when the file has no
// symbol table (built with -ldflags=-s) or is not such an ELF file; call it
// after CheckELF. Like ReadPackages, it reads through a buffer of a fixed
// size and never crashes on a damaged file.
func ELFPluginPath(file string) string {
	return readELFString(file, elfPluginPath)
}

// readELFString opens file without blocking and returns what read finds
// in it, or "" when it cannot be opened or read panics (a damaged file
// that debug/elf does not refuse).
func readELFString(file string, read func(r io.ReaderAt, size int64) string) (out string) {
	f, st, err := OpenFile(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	defer func() {
		if recover() != nil {
			out = ""
		}
	}()
	return read(f, st.Size())
}

// pluginPathSymbol is the symbol of a plugin's path; maxPluginPath bounds
// its size.
const (
	pluginPathSymbol = "go:link.thispluginpath"
	maxPluginPath    = 1 << 16
)

// elfPluginPath does ELFPluginPath's work on r, of size bytes.
func elfPluginPath(r io.ReaderAt, size int64) string {
	f, err := elf.NewFile(r)
	if err != nil {
		return ""
	}
	symtab := f.SectionByType(elf.SHT_SYMTAB)
	if symtab == nil {
		return ""
	}
	var off, n uint64
	found := 0
	buf := bufpool.Get(hashChunk)
	defer bufpool.Put(buf)
	err = scanSymbols(r, size, f, symtab, []byte(pluginPathSymbol+"\x00"), *buf, func(_ []byte, _ *elf.Section, o, sz uint64) {
		off, n = o, sz
		found++
	})
	if err != nil || found != 1 || n == 0 || n > maxPluginPath {
		return ""
	}
	b := make([]byte, n)
	if readFull(r, b, off, pluginPathSymbol) != nil {
		return ""
	}
	return string(b)
}

// unnamedPrefix starts the path cmd/go gives the main package of a plugin
// built from a list of files.
const unnamedPrefix = "plugin/unnamed-"

// MissingSymbol returns an exported name of the plugin in file that
// plugin.Open will not find, or "". The runtime looks each exported
// symbol of the main package up as KEY.NAME, KEY being the plugin's path
// (key, from FileIdentity), but the compiler named them after the
// package's own path: a plugin built with -ldflags=-pluginpath=X (from a
// package or from files) fails with "could not find symbol NAME" (seen
// with go1.26.8). Only a key other than the package's path is read for;
// a plugin built with both -trimpath and -pluginpath from a package is
// not seen (its build information hides the flag, see Identity).
func MissingSymbol(file string, info *debug.BuildInfo, key string) string {
	if info == nil || key == "" {
		return ""
	}
	compiled := info.Path + "."
	if info.Path == "command-line-arguments" {
		if strings.HasPrefix(key, unnamedPrefix) {
			return ""
		}
		compiled = unnamedPrefix
	} else if key == info.Path {
		return ""
	}
	return readELFString(file, func(r io.ReaderAt, size int64) string { return missingSymbol(r, size, compiled, key) })
}

// missingSymbol does MissingSymbol's reading, of f (size bytes), for the
// symbols named after compiled, of the plugin whose runtime key is key.
func missingSymbol(f io.ReaderAt, size int64, compiled, key string) string {
	ef, err := elf.NewFile(f)
	if err != nil {
		return ""
	}
	dynsym := ef.SectionByType(elf.SHT_DYNSYM)
	if dynsym == nil {
		return ""
	}
	bufp := bufpool.Get(hashChunk)
	defer bufpool.Put(bufp)
	buf := *bufp
	var exported []string
	err = scanSymbols(f, size, ef, dynsym, []byte(compiled), buf, func(sym []byte, _ *elf.Section, _, _ uint64) {
		rest := string(sym[len(compiled):])
		if compiled == unnamedPrefix { // plugin/unnamed-HASH.NAME
			_, rest, _ = strings.Cut(rest, ".")
		}
		if rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' && !strings.ContainsAny(rest, ".()*") {
			exported = append(exported, rest)
		}
	})
	if err != nil || len(exported) == 0 {
		return ""
	}
	have := map[string]bool{}
	err = scanSymbols(f, size, ef, dynsym, []byte(key+"."), buf, func(sym []byte, _ *elf.Section, _, _ uint64) {
		have[string(sym[len(key)+1:])] = true
	})
	if err != nil {
		return ""
	}
	slices.Sort(exported)
	for _, n := range exported {
		if !have[n] {
			return n
		}
	}
	return ""
}
