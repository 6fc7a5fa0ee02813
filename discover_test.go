package opa

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// layout makes files (content "") and directories (a trailing "/") under root.
func layout(t *testing.T, root string, entries ...string) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(root, e)
		if e[len(e)-1] == '/' {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, nil, 0o644))
	}
}

// found summarises discover's result as "match" or "match (shadowed by X)".
func found(cands []*candidate) []string {
	out := []string{}
	for _, c := range cands {
		s := c.match
		if c.builtin != nil {
			s += " [builtin]"
		}
		if c.shadowed != "" {
			s += " (shadowed by " + c.shadowed + ")"
		}
		out = append(out, s)
	}
	return out
}

func TestDiscover(t *testing.T) {
	root := t.TempDir()
	a, b, def := root+"/a", root+"/b", root+"/default"
	layout(t, root,
		"a/zeta.so", "a/alpha.so", "a/alpha-meta.json", // sorted per path
		"a/pkg/plugin.so", "a/pkg/meta.json", "a/pkg/assets/x.css", // a directory plugin may hold other files
		"a/my-plugin.so",           // hyphens are fine
		"a/a.b.so", "a/.hidden.so", // a dot in the name, hidden: skipped
		"a/.hid/plugin.so", "a/with.dot/plugin.so",
		"a/notes.txt", "a/empty/", "a/lib/other.so", // not plugins
		"a/both/plugin.so", "a/both.so", // a directory sorts first and wins
		"b/alpha.so", "b/pkg.so", "b/beta/plugin.so", // shadowed by a, then a new one
		"default/beta.so", "default/gamma.so",
	)
	builtins := []namedRegistration{{name: "gamma"}, {name: "omega"}}

	cands, missing, err := discover([]string{a, root + "/missing", b, def}, def, builtins)
	require.NoError(t, err)
	assert.Equal(t, []string{root + "/missing"}, missing, "the path that does not exist is skipped and returned")
	assert.Equal(t, []string{
		a + "/alpha",
		a + "/both",
		a + "/both (shadowed by " + a + "/both)",
		a + "/my-plugin",
		a + "/pkg",
		a + "/zeta",
		b + "/alpha (shadowed by " + a + "/alpha)",
		b + "/beta",
		b + "/pkg (shadowed by " + a + "/pkg)",
		def + "/beta (shadowed by " + b + "/beta)",
		def + "/gamma",
		def + "/gamma [builtin] (shadowed by " + def + "/gamma)",
		def + "/omega [builtin]",
	}, found(cands))

	byMatch := map[string]*candidate{}
	for _, c := range cands {
		if c.shadowed == "" {
			byMatch[c.match] = c
		}
	}
	assert.Equal(t, filepath.Join(a, "alpha.so"), byMatch[a+"/alpha"].file)
	assert.Equal(t, filepath.Join(a, "alpha-meta.json"), byMatch[a+"/alpha"].metaFile, "single file: NAME-meta.json beside it")
	assert.Equal(t, filepath.Join(a, "pkg", "plugin.so"), byMatch[a+"/pkg"].file)
	assert.Equal(t, filepath.Join(a, "pkg", "meta.json"), byMatch[a+"/pkg"].metaFile, "directory: NAME/meta.json")
}

func TestSearchPaths(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"nothing set: only the default path", Config{}, []string{"/data/opa/plugins"}},
		{"paths in order, then the default", Config{PluginPaths: []string{"/b", "/a"}}, []string{"/b", "/a", "/data/opa/plugins"}},
		{"duplicates removed, first kept", Config{PluginPaths: []string{"/a", "/b", "/a"}}, []string{"/a", "/b", "/data/opa/plugins"}},
		{"the default path is configurable", Config{PluginPaths: []string{"/a"}, DefaultPluginPath: "/d"}, []string{"/a", "/d"}},
		{"a listed default path is searched once, where listed", Config{PluginPaths: []string{"/d", "/a"}, DefaultPluginPath: "/d"}, []string{"/d", "/a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, searchPaths(tc.cfg))
		})
	}
}

func TestMatchStringKeepsThePathAsConfigured(t *testing.T) {
	assert.Equal(t, "/data/opa/demo-plugins/demo_util", matchString("/data/opa/demo-plugins", "demo_util"))
	assert.Equal(t, "./plugins/x", matchString("./plugins", "x"), "not cleaned")
	assert.Equal(t, "/p/x", matchString("/p/", "x"), "a trailing slash is not doubled")

	root := t.TempDir()
	layout(t, root, "p/x.so")
	t.Chdir(root)
	cands, _, err := discover([]string{"./p/"}, "/nonexistent", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"./p/x"}, found(cands))
}

func TestDiscoverUnreadablePathIsAnError(t *testing.T) {
	root := t.TempDir()
	layout(t, root, "file")
	_, _, err := discover([]string{root + "/file"}, "/nonexistent", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "opa: plugin path "+root+"/file")
}

func TestDiscoverFollowsSymlinkedDirectories(t *testing.T) {
	root := t.TempDir()
	layout(t, root, "real/plugin.so", "p/")
	require.NoError(t, os.Symlink(root+"/real", root+"/p/linked"))
	cands, _, err := discover([]string{root + "/p"}, "/nonexistent", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{root + "/p/linked"}, found(cands))
}

// Compiled-in plugins live in the default path: they take their place among
// its plugins by name, and a file of the same name there wins.
func TestDiscoverPlacesBuiltinsAmongTheDefaultPath(t *testing.T) {
	root := t.TempDir()
	p, def := root+"/p", root+"/default"
	layout(t, root, "p/x.so", "default/hello.so", "default/mmm.so")
	builtins := []namedRegistration{{name: "aaa"}, {name: "hello"}, {name: "zzz"}}

	cands, _, err := discover([]string{p, def}, def, builtins)
	require.NoError(t, err)
	assert.Equal(t, []string{
		p + "/x",
		def + "/aaa [builtin]",
		def + "/hello",
		def + "/hello [builtin] (shadowed by " + def + "/hello)",
		def + "/mmm",
		def + "/zzz [builtin]",
	}, found(cands))

	// The default path given among PLUGIN_PATHS is searched there, builtins with it.
	cands, _, err = discover([]string{def, p}, def, builtins)
	require.NoError(t, err)
	assert.Equal(t, []string{
		def + "/aaa [builtin]",
		def + "/hello",
		def + "/hello [builtin] (shadowed by " + def + "/hello)",
		def + "/mmm",
		def + "/zzz [builtin]",
		p + "/x",
	}, found(cands))
}

// A plugin file or directory whose name starts with a hyphen cannot load;
// it is reported, not silently dropped.
func TestDiscoverReportsAHyphenName(t *testing.T) {
	root := t.TempDir()
	layout(t, root, "p/-bad.so", "p/-dir/plugin.so", "p/a.b.so")
	for _, mode := range []string{"fail", "skip"} {
		t.Run(mode, func(t *testing.T) {
			m, err := New(WithConfig(Config{PluginPaths: []string{root + "/p"}, DefaultPluginPath: root + "/default", OnError: mode}),
				WithLogger(slog.New(slog.DiscardHandler)))
			require.NoError(t, err)
			err = m.StartupSimple(t.Context())
			rep := m.Report()
			require.Len(t, rep.Plugins, 2, "a.b.so is skipped, as the specification says; the hyphen names are reported")
			for i, name := range []string{"-bad", "-dir"} {
				p := rep.Plugins[i]
				assert.Equal(t, name, p.Name)
				assert.False(t, p.Loaded)
				assert.Equal(t, "name", p.Step)
				assert.Contains(t, p.Reason, "a plugin name does not start with a hyphen: rename it")
			}
			if mode == "fail" {
				assert.ErrorContains(t, err, "opa: plugin -bad ("+root+"/p/-bad): name: ")
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

// TestMissingSearchPathsAreReported: a search path that does not exist is
// skipped silently, as in opa-stack (no log line says so), and the report
// says which of PLUGIN_PATHS: in MissingPaths, its text and its page.
func TestMissingSearchPathsAreReported(t *testing.T) {
	root := t.TempDir()
	layout(t, root, "p/")
	var log strings.Builder
	m, err := New(WithConfig(Config{PluginPaths: []string{root + "/p", root + "/typo"}, DefaultPluginPath: root + "/default"}),
		WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	require.NoError(t, err)
	require.NoError(t, m.StartupSimple(t.Context()))
	rep := m.Report()
	assert.Equal(t, []string{root + "/p", root + "/typo", root + "/default"}, rep.SearchPaths)
	assert.Equal(t, []string{root + "/typo"}, rep.MissingPaths, "not the default path: often absent on purpose")
	assert.Empty(t, log.String(), "skipped silently: no warning")
	assert.Contains(t, rep.String(), "search path "+root+"/typo: does not exist\n")

	rec := httptest.NewRecorder()
	m.ReportHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?format=html", nil))
	assert.Equal(t, 1, strings.Count(rec.Body.String(), "(does not exist)"), "the page marks the missing path")
}
