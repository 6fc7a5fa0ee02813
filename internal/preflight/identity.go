package preflight

import (
	"debug/elf"
	"runtime/debug"
	"strings"
)

// Identity returns the key under which the Go runtime registers a
// plugin, as far as its build information tells, or "" if it cannot tell.
// Two .so files with the same identity cannot both load: the second fails
// with "plugin already loaded" (a copy of a plugin under another name).
//
// The runtime compares the linker's -pluginpath, not file names. go build
// sets it to the main package's import path, which is info.Path, unless:
//
//   - the plugin was built from files (go build x.go): info.Path is
//     "command-line-arguments" for all of them, but each gets its own
//     "plugin/unnamed-<hash of its sources>", so "" is returned;
//   - it was built with -ldflags=-pluginpath=X: then X is the key. go build
//     records -ldflags in the build settings (go version -m shows
//     "build -ldflags=-pluginpath=X"), so X is returned, but NOT when
//     -trimpath is also given (golang/go#52372: -ldflags is then left out),
//     and info.Path is returned although the runtime uses X.
//
// The exact key is also in the ELF symbol go:link.thispluginpath (a string in
// .rodata) unless the file was stripped with -ldflags=-s; elfPluginPath
// reads it. Checked with go1.26.8: a plugin of package example.com/tiny
// built plainly, with -pluginpath=custom/ident, and with both -trimpath and
// -pluginpath=custom/ident gives "example.com/tiny", "custom/ident" and
// "custom/ident" there, while its build info shows -ldflags only for the
// second.
func Identity(info *debug.BuildInfo) string {
	if info == nil || info.Path == "" || info.Path == "command-line-arguments" {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == "-ldflags" {
			if pp := ldflagsPluginPath(s.Value); pp != "" {
				return pp
			}
		}
	}
	return info.Path
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
// after CheckELF.
func ELFPluginPath(file string) string {
	f, err := elf.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return ""
	}
	for _, s := range syms {
		if s.Name != "go:link.thispluginpath" || s.Size == 0 || s.Size > 1<<16 || int(s.Section) >= len(f.Sections) {
			continue
		}
		sec := f.Sections[s.Section]
		if s.Value < sec.Addr || s.Value-sec.Addr+s.Size > sec.Size {
			return ""
		}
		b := make([]byte, s.Size)
		if _, err := sec.ReadAt(b, int64(s.Value-sec.Addr)); err != nil {
			return ""
		}
		return string(b)
	}
	return ""
}
