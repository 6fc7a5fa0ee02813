package preflight

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const preflightOpaModule = "github.com/opa-stack/opa-go"

// preflightHost and preflightPluginInfo are a matching host and plugin;
// each test case changes a fresh copy.
func preflightHost() *debug.BuildInfo {
	return &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Path:      "example.com/host",
		Main:      debug.Module{Path: "example.com/host", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/go-chi/chi/v5", Version: "v5.5.0", Sum: "h1:chi="},
			{Path: preflightOpaModule, Version: "v0.3.0", Sum: "h1:opa="},
			{Path: "github.com/spf13/viper", Version: "v1.21.0", Sum: "h1:viper="},
		},
		Settings: []debug.BuildSetting{
			{Key: "-buildmode", Value: "exe"}, {Key: "-compiler", Value: "gc"},
			{Key: "-tags", Value: "netgo,prod"}, {Key: "CGO_ENABLED", Value: "1"},
			{Key: "GOARCH", Value: "amd64"}, {Key: "GOOS", Value: "linux"}, {Key: "GOAMD64", Value: "v1"},
		},
	}
}

func preflightPluginInfo() *debug.BuildInfo {
	b := preflightHost()
	b.Path = "example.com/plugins/hello"
	b.Main = debug.Module{Path: "example.com/plugins", Version: "(devel)"}
	b.Deps = b.Deps[:2] // chi and opa-go: viper is only in the host
	b.Settings[0].Value = "plugin"
	b.Settings[2].Value = "prod,netgo"
	return b
}

// preflightSet sets (or with value "" removes) a build setting.
func preflightSet(b *debug.BuildInfo, key, value string) {
	b.Settings = slices.DeleteFunc(b.Settings, func(s debug.BuildSetting) bool { return s.Key == key })
	if value != "" {
		b.Settings = append(b.Settings, debug.BuildSetting{Key: key, Value: value})
	}
}

// preflightDep returns the dependency with the given path.
func preflightDep(b *debug.BuildInfo, path string) *debug.Module {
	for _, d := range b.Deps {
		if d.Path == path {
			return d
		}
	}
	panic("no dep " + path)
}

func TestCheckBuild(t *testing.T) {
	type change func(plugin, host *debug.BuildInfo)
	tests := []struct {
		name   string
		change change
		want   []string // nil = no error
	}{
		{"identical", func(p, h *debug.BuildInfo) {}, nil},
		{"go version", func(p, h *debug.BuildInfo) { p.GoVersion = "go1.26.7" },
			[]string{"built with go1.26.7, host built with go1.26.8: rebuild the plugin with go1.26.8"}},
		{"buildmode", func(p, h *debug.BuildInfo) { preflightSet(p, "-buildmode", "exe") },
			[]string{"built with -buildmode=exe: build it with -buildmode=plugin"}},
		{"race on the host", func(p, h *debug.BuildInfo) { preflightSet(h, "-race", "true") },
			[]string{"built without -race, host built with -race: rebuild the plugin with -race"}},
		{"race in the plugin", func(p, h *debug.BuildInfo) { preflightSet(p, "-race", "true") },
			[]string{"built with -race, host built without -race: rebuild the plugin without -race"}},
		{"trimpath", func(p, h *debug.BuildInfo) { preflightSet(h, "-trimpath", "true") },
			[]string{"built without -trimpath, host built with -trimpath: rebuild the plugin with -trimpath"}},
		{"cover", func(p, h *debug.BuildInfo) { preflightSet(p, "-cover", "true") },
			[]string{"built with -cover, host built without -cover: rebuild the plugin without -cover"}},
		{"asan", func(p, h *debug.BuildInfo) { preflightSet(h, "-asan", "true") },
			[]string{"built without -asan, host built with -asan: rebuild the plugin with -asan"}},
		{"msan", func(p, h *debug.BuildInfo) { preflightSet(h, "-msan", "true") },
			[]string{"built without -msan, host built with -msan: rebuild the plugin with -msan"}},
		{"cgo", func(p, h *debug.BuildInfo) { preflightSet(p, "CGO_ENABLED", "0") },
			[]string{"built with CGO_ENABLED=0, host built with CGO_ENABLED=1: rebuild the plugin with CGO_ENABLED=1"}},
		{"cgo off in the host", func(p, h *debug.BuildInfo) { preflightSet(h, "CGO_ENABLED", "0") },
			[]string{"built with CGO_ENABLED=1, host built with CGO_ENABLED=0: the host cannot load .so plugins at all: rebuild the host with CGO_ENABLED=1"}},
		{"gcflags with a space", func(p, h *debug.BuildInfo) { preflightSet(h, "-gcflags", "all=-N -l") },
			[]string{`built with no -gcflags, host built with -gcflags=all=-N -l: rebuild the plugin with "-gcflags=all=-N -l"`}},
		{"goarch", func(p, h *debug.BuildInfo) { preflightSet(p, "GOARCH", "arm64") },
			[]string{"built with GOARCH=arm64, host built with GOARCH=amd64: rebuild the plugin with GOARCH=amd64"}},
		{"goos", func(p, h *debug.BuildInfo) { preflightSet(p, "GOOS", "freebsd") },
			[]string{"built with GOOS=freebsd, host built with GOOS=linux: rebuild the plugin with GOOS=linux"}},
		{"goexperiment on the host", func(p, h *debug.BuildInfo) { preflightSet(h, "GOEXPERIMENT", "jsonv2") },
			[]string{"built with no GOEXPERIMENT, host built with GOEXPERIMENT=jsonv2: rebuild the plugin with GOEXPERIMENT=jsonv2"}},
		{"goexperiment in the plugin", func(p, h *debug.BuildInfo) { preflightSet(p, "GOEXPERIMENT", "jsonv2") },
			[]string{"built with GOEXPERIMENT=jsonv2, host built with no GOEXPERIMENT: rebuild the plugin without GOEXPERIMENT"}},
		{"goexperiment order", func(p, h *debug.BuildInfo) {
			preflightSet(p, "GOEXPERIMENT", "a,b")
			preflightSet(h, "GOEXPERIMENT", "b,a")
		}, nil},
		{"tags", func(p, h *debug.BuildInfo) { preflightSet(p, "-tags", "prod") },
			[]string{"built with -tags=prod, host built with -tags=netgo,prod: rebuild the plugin with -tags=netgo,prod"}},
		{"no tags in the plugin", func(p, h *debug.BuildInfo) { preflightSet(p, "-tags", "") },
			[]string{"built with no -tags, host built with -tags=netgo,prod: rebuild the plugin with -tags=netgo,prod"}},
		{"gcflags", func(p, h *debug.BuildInfo) { preflightSet(p, "-gcflags", "all=-N -l") },
			[]string{"built with -gcflags=all=-N -l, host built with no -gcflags: rebuild the plugin without -gcflags"}},
		{"settings not recorded", func(p, h *debug.BuildInfo) { preflightSet(p, "GOOS", ""); preflightSet(h, "CGO_ENABLED", "") }, nil},
		{"ldflags and GOAMD64 do not matter", func(p, h *debug.BuildInfo) { preflightSet(p, "-ldflags", "-s -w"); preflightSet(h, "GOAMD64", "v3") }, nil},
		{"module version", func(p, h *debug.BuildInfo) { preflightDep(p, "github.com/go-chi/chi/v5").Version = "v5.4.0" },
			[]string{"module github.com/go-chi/chi/v5: plugin built with v5.4.0, host with v5.5.0: rebuild the plugin with go get github.com/go-chi/chi/v5@v5.5.0"}},
		{"module sum", func(p, h *debug.BuildInfo) { preflightDep(h, preflightOpaModule).Sum = "h1:other=" },
			[]string{"module github.com/opa-stack/opa-go v0.3.0: plugin and host were built with different contents (sum h1:opa=, host h1:other=): rebuild the plugin with the host's copy (the same go.sum line for github.com/opa-stack/opa-go)"}},
		{"module replaced on the host", func(p, h *debug.BuildInfo) {
			preflightDep(h, preflightOpaModule).Replace = &debug.Module{Path: "example.com/fork/opa-go", Version: "v0.3.1", Sum: "h1:fork="}
		}, []string{"module github.com/opa-stack/opa-go: plugin built with v0.3.0, host with => example.com/fork/opa-go v0.3.1: rebuild the plugin with the host's `replace github.com/opa-stack/opa-go => example.com/fork/opa-go v0.3.1`"}},
		{"same replace on both", func(p, h *debug.BuildInfo) {
			preflightDep(h, preflightOpaModule).Replace = &debug.Module{Path: "example.com/fork/opa-go", Version: "v0.3.1", Sum: "h1:fork="}
			preflightDep(p, preflightOpaModule).Replace = &debug.Module{Path: "example.com/fork/opa-go", Version: "v0.3.1", Sum: "h1:fork="}
		}, nil},
		{"local replace in the plugin is not flagged", func(p, h *debug.BuildInfo) {
			preflightDep(p, preflightOpaModule).Replace = &debug.Module{Path: "../opa-go", Version: "(devel)"}
		}, nil},
		{"devel is not flagged", func(p, h *debug.BuildInfo) {
			preflightDep(h, preflightOpaModule).Version = "(devel)"
			preflightDep(h, preflightOpaModule).Sum = ""
		}, nil},
		{"dirty is not flagged", func(p, h *debug.BuildInfo) {
			preflightDep(h, preflightOpaModule).Version = "v0.3.1-0.20250101000000-abcdef123456+dirty"
		}, nil},
		{"vendored, versions differ", func(p, h *debug.BuildInfo) {
			preflightDep(p, preflightOpaModule).Sum, preflightDep(h, preflightOpaModule).Sum = "", ""
			preflightDep(p, preflightOpaModule).Version = "v0.2.0"
		}, []string{"module github.com/opa-stack/opa-go: plugin built with v0.2.0, host with v0.3.0: rebuild the plugin with go get github.com/opa-stack/opa-go@v0.3.0"}},
		{"vendored, same version", func(p, h *debug.BuildInfo) {
			preflightDep(p, preflightOpaModule).Sum, preflightDep(h, preflightOpaModule).Sum = "", ""
		}, nil},
		{"host main module installed at a version", func(p, h *debug.BuildInfo) {
			h.Main = debug.Module{Path: preflightOpaModule, Version: "v0.4.0", Sum: "h1:main="}
			h.Deps = slices.DeleteFunc(h.Deps, func(d *debug.Module) bool { return d.Path == preflightOpaModule })
		}, []string{"module github.com/opa-stack/opa-go: plugin built with v0.3.0, host with v0.4.0: rebuild the plugin with go get github.com/opa-stack/opa-go@v0.4.0"}},
		{"plugin main module is a host dependency", func(p, h *debug.BuildInfo) {
			h.Deps = append(h.Deps, &debug.Module{Path: "example.com/plugins", Version: "v1.0.0", Sum: "h1:plugins="})
			p.Main = debug.Module{Path: "example.com/plugins", Version: "v1.1.0", Sum: "h1:plugins11="}
		}, []string{"module example.com/plugins: plugin built with v1.1.0, host with v1.0.0: rebuild the plugin with go get example.com/plugins@v1.0.0"}},
		{"host main module from a checkout is not flagged", func(p, h *debug.BuildInfo) {
			h.Main = debug.Module{Path: preflightOpaModule, Version: "v0.4.0"} // VCS-stamped, no sum
			h.Deps = slices.DeleteFunc(h.Deps, func(d *debug.Module) bool { return d.Path == preflightOpaModule })
		}, nil},
		{"several at once", func(p, h *debug.BuildInfo) {
			preflightSet(h, "-race", "true")
			preflightSet(p, "-trimpath", "true")
			preflightSet(p, "-tags", "prod")
			p.GoVersion = "go1.25.0"
			preflightDep(p, "github.com/go-chi/chi/v5").Version = "v5.4.0"
			preflightDep(p, preflightOpaModule).Version = "v0.2.9"
		}, []string{
			"built with go1.25.0, host built with go1.26.8: rebuild the plugin with go1.26.8",
			"built with -tags=prod, host built with -tags=netgo,prod: rebuild the plugin with -tags=netgo,prod",
			"built without -race, host built with -race: rebuild the plugin with -race",
			"built with -trimpath, host built without -trimpath: rebuild the plugin without -trimpath",
			"module github.com/go-chi/chi/v5: plugin built with v5.4.0, host with v5.5.0: rebuild the plugin with go get github.com/go-chi/chi/v5@v5.5.0",
			"module github.com/opa-stack/opa-go: plugin built with v0.2.9, host with v0.3.0: rebuild the plugin with go get github.com/opa-stack/opa-go@v0.3.0",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, h := preflightPluginInfo(), preflightHost()
			tc.change(p, h)
			err := CompareBuild(p, h)
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			var bm *BuildMismatchError
			require.True(t, errors.As(err, &bm), "want a *BuildMismatchError, got %v", err)
			assert.Equal(t, tc.want, bm.Differences)
			assert.EqualError(t, err, strings.Join(tc.want, "; "))
		})
	}
	t.Run("no plugin info", func(t *testing.T) {
		assert.EqualError(t, CompareBuild(nil, preflightHost()),
			"has no Go build information (none found; not a Go plugin, or stripped of it?): build it with go build -buildmode=plugin")
	})
	t.Run("no host info", func(t *testing.T) {
		assert.NoError(t, CompareBuild(preflightPluginInfo(), nil))
	})
}

func TestPreflightBuildRealPlugin(t *testing.T) {
	file := writePreflightFile(t, "p.so", preflightPlugin(t))
	info, err := ReadBuild(file)
	require.NoError(t, err)
	require.NotNil(t, info)
	assert.Equal(t, preflightModule, info.Path)
	assert.Equal(t, "plugin", buildSettings(info)["-buildmode"])
	if host, ok := hostBuildInfo(); ok && buildSettings(host)["-cover"] == "" {
		assert.NoError(t, CompareBuild(info, HostBuildInfo()), "the plugin is built like this test binary")
	}
	assert.Equal(t, preflightModule, Identity(info))
	assert.Equal(t, preflightModule, ELFPluginPath(file))

	t.Run("text file", func(t *testing.T) {
		info, err := ReadBuild(writePreflightFile(t, "p.so", []byte("hello\n")))
		assert.Nil(t, info)
		assert.EqualError(t, err, "has no Go build information (unrecognized file format; not a Go plugin, or stripped of it?): build it with go build -buildmode=plugin")
	})
	t.Run("missing", func(t *testing.T) {
		_, err := ReadBuild(filepath.Join(t.TempDir(), "gone.so"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestPluginIdentity(t *testing.T) {
	info := func(path string, settings ...debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{Path: path, Settings: settings}
	}
	ld := func(v string) debug.BuildSetting { return debug.BuildSetting{Key: "-ldflags", Value: v} }
	tests := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"nil", nil, ""},
		{"main package", info("example.com/p"), "example.com/p"},
		{"built from files", info("command-line-arguments"), ""},
		{"built from files with -pluginpath", info("command-line-arguments", ld("-pluginpath=custom/ident")), "custom/ident"},
		{"pluginpath=", info("example.com/p", ld("-pluginpath=custom/ident")), "custom/ident"},
		{"pluginpath and space", info("example.com/p", ld("-s -w -pluginpath custom/ident")), "custom/ident"},
		{"double dash, quoted, last wins", info("example.com/p", ld(`--pluginpath=a "-pluginpath=b"`)), "b"},
		{"other ldflags", info("example.com/p", ld("-s -w -X main.v=1")), "example.com/p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Identity(tc.info))
		})
	}
	t.Run("no symbols", func(t *testing.T) {
		assert.Empty(t, ELFPluginPath(writePreflightFile(t, "p.so", []byte("hello\n"))))
	})
}

// MissingSymbol finds an exported name that plugin.Open would look up
// under another plugin path than the compiler named it after.
func TestMissingSymbol(t *testing.T) {
	file := writePreflightFile(t, "p.so", preflightPlugin(t))
	info, err := ReadBuild(file)
	require.NoError(t, err)
	key := FileIdentity(file, info)
	require.Equal(t, preflightModule, key)
	assert.Empty(t, MissingSymbol(file, info, key), "its own path: every symbol is found")
	assert.Equal(t, "PreflightValue", MissingSymbol(file, info, "custom/ident"), "another path: plugin.Open looks up custom/ident.PreflightValue")
	files := &debug.BuildInfo{Path: "command-line-arguments"}
	assert.Empty(t, MissingSymbol(file, files, unnamedPrefix+"0123"), "a file-list plugin under its own unnamed path")
	assert.Empty(t, MissingSymbol(file, nil, "custom/ident"), "no build information: nothing to compare")
	assert.Empty(t, MissingSymbol(writePreflightFile(t, "t.so", []byte("hello\n")), info, "custom/ident"))
}

// The same path, or a symbolic link to it, is the file plugin.Open keys
// by; a hard link or a copy is another.
func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.so")
	require.NoError(t, os.WriteFile(a, []byte("x"), 0o644))
	link := filepath.Join(dir, "link.so")
	require.NoError(t, os.Symlink("a.so", link))
	hard := filepath.Join(dir, "hard.so")
	require.NoError(t, os.Link(a, hard))
	rel, err := filepath.Rel(".", a)
	if err != nil {
		rel = a
	}
	assert.True(t, SameFile(a, a))
	assert.True(t, SameFile(a, link))
	assert.True(t, SameFile(rel, a))
	assert.True(t, SameFile(filepath.Join(dir, ".", "a.so"), a))
	assert.False(t, SameFile(a, hard), "plugin.Open refuses a hard link as a copy")
	assert.False(t, SameFile(a, filepath.Join(dir, "gone.so")))
}

// Against a plugin loaded before, the differences name that plugin, and a
// module path that contains "host" is left as it is.
func TestCompareBuildWithAPlugin(t *testing.T) {
	p, other := preflightPluginInfo(), preflightPluginInfo()
	p.Deps = append(p.Deps, &debug.Module{Path: "example.com/opahost", Version: "v1.1.0", Sum: "h1:a="})
	other.Deps = append(other.Deps, &debug.Module{Path: "example.com/opahost", Version: "v1.0.0", Sum: "h1:b="})
	preflightSet(other, "-race", "true")
	var bm *BuildMismatchError
	require.True(t, errors.As(compareBuild(p, other, "plugin first"), &bm))
	assert.Equal(t, []string{
		"built without -race, plugin first built with -race: rebuild the plugin with -race",
		"module example.com/opahost: plugin built with v1.1.0, plugin first with v1.0.0: rebuild the plugin with go get example.com/opahost@v1.0.0",
	}, bm.Differences)
}
