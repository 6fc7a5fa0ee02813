package opa_test

import (
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/internal/testenv"
)

// The compatibility corpus: plugins built in the ways users get wrong (and
// some that only look wrong), each checked by opa.CheckPlugin against the
// test host binary and opened by that host with a bare plugin.Open in a
// child process. The check must give the runtime's verdict every time: no
// plugin it accepts may fail to load, none it refuses may load.

// runtimeVerdicts opens files in order with plugin.Open in the test host
// and returns each error ("" for a plugin that loaded).
func runtimeVerdicts(t *testing.T, files ...string) []string {
	t.Helper()
	args := []string{}
	for _, f := range files {
		args = append(args, "-open", f)
	}
	cmd := exec.Command(filepath.Join(fixtureDir(t), "host"), args...)
	cmd.Env = cleanEnv()
	out, err := cmd.Output()
	require.NoError(t, err, "the bare host died: %s", out)
	var vs []struct{ File, Error string }
	require.NoError(t, json.Unmarshal(out, &vs), "%s", out)
	require.Len(t, vs, len(files))
	got := make([]string, len(vs))
	for i, v := range vs {
		got[i] = v.Error
	}
	return got
}

// testHost is the test host binary as the checks see it.
func testHost(t *testing.T) *opa.Host {
	t.Helper()
	file := filepath.Join(fixtureDir(t), "host")
	info, err := buildinfo.ReadFile(file)
	require.NoError(t, err)
	return &opa.Host{File: file, Build: info}
}

// buildIn runs go build -buildmode=plugin (with the test binary's flags and
// extra) of pkg in dir, writing out.
func buildIn(t *testing.T, dir, out, pkg string, extra ...string) string {
	t.Helper()
	args := append(append([]string{"build", "-buildmode=plugin"}, buildFlags()...), extra...)
	require.NoError(t, goCmdIn(dir, append(args, "-o", out, pkg)...))
	return out
}

// writeTree writes files (path → content) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		f := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(f), 0o755))
		require.NoError(t, os.WriteFile(f, []byte(c), 0o644))
	}
}

// copyModule copies this module's non-test Go sources, go.mod and go.sum to
// dir: the same library, from another directory.
func copyModule(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", "examples", "bench", "river", "cmd", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") { // sources, embedded files, go.mod and go.sum
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
				return err
			}
			return copyFile(p, filepath.Join(dir, p))
		}
		return nil
	}))
}

// helloSource is a plugin outside this module, importing the library.
const helloSource = `package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

var Plugin = opa.Plugin{Router: router()}

func router() chi.Router {
	r := opa.GetRouter()
	r.Get("/thirdparty", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("third party")) })
	return r
}

func main() {}
`

func TestCompatibilityCorpus(t *testing.T) {
	fixtures := fixtureDir(t)
	here, err := os.Getwd()
	require.NoError(t, err)
	tmp := t.TempDir()

	// A module of its own holding a small library two plugins share; the
	// second is built after an edit of the library, in the same directory.
	shared := filepath.Join(tmp, "shared")
	writeTree(t, shared, map[string]string{
		"go.mod":        "module example.com/corpus\n\ngo 1.26\n",
		"lib/lib.go":    "package lib\n\n// Word is shared.\nfunc Word() string { return \"one\" }\n",
		"p1/main.go":    "package main\n\nimport \"example.com/corpus/lib\"\n\nvar Value = lib.Word()\n\nfunc main() {}\n",
		"p2/main.go":    "package main\n\nimport \"example.com/corpus/lib\"\n\nvar Value = lib.Word()\n\nfunc main() {}\n",
		"same/main.go":  "package main\n\nimport \"example.com/corpus/lib\"\n\nvar Value = lib.Word()\n\nfunc main() {}\n",
		"files/main.go": "package main\n\n// Value is looked up by no one.\nvar Value = \"built from a list of files\"\n\nfunc main() {}\n",
	})
	// Plugins built from a list of files (go build main.go): their build
	// information says only "command-line-arguments"; the runtime keys
	// them by the path the linker gives them.
	files := buildIn(t, filepath.Join(shared, "files"), filepath.Join(tmp, "files.so"), "main.go")
	filesCopy := filepath.Join(tmp, "files-copy.so")
	require.NoError(t, copyFile(files, filesCopy))
	ppath := buildIn(t, filepath.Join(shared, "files"), filepath.Join(tmp, "pluginpath.so"), "main.go", "-ldflags=-pluginpath=example.com/corpus/custom")
	ppathCopy := filepath.Join(tmp, "pluginpath-copy.so")
	require.NoError(t, copyFile(ppath, ppathCopy))
	// The same file named again: as it is, through a symbolic link, and
	// through a hard link (another path to the same inode).
	hello := filepath.Join(fixtures, "hello.so")
	helloLink := filepath.Join(tmp, "hello-link.so")
	require.NoError(t, os.Symlink(hello, helloLink))
	hard := filepath.Join(tmp, "hard.so")
	require.NoError(t, copyFile(hello, hard))
	hardLink := filepath.Join(tmp, "hard-link.so")
	require.NoError(t, os.Link(hard, hardLink))
	p1 := buildIn(t, shared, filepath.Join(tmp, "p1.so"), "./p1")
	same := buildIn(t, shared, filepath.Join(tmp, "same.so"), "./same")
	writeTree(t, shared, map[string]string{"lib/lib.go": "package lib\n\n// Word is shared.\nfunc Word() string { return \"two\" }\n\n// Added is new.\nfunc Added() {}\n"})
	p2 := buildIn(t, shared, filepath.Join(tmp, "p2.so"), "./p2")

	// The library from another directory: a plugin module of its own, with
	// a copy of opa-go.
	other := filepath.Join(tmp, "opa-copy")
	copyModule(t, other)
	third := filepath.Join(tmp, "thirdparty")
	writeTree(t, third, map[string]string{
		"go.mod":  "module example.com/thirdparty\n\ngo 1.26\n\nrequire github.com/opa-stack/opa-go v0.0.0\n\nreplace github.com/opa-stack/opa-go => " + other + "\n",
		"main.go": helloSource,
	})
	require.NoError(t, copyFile(filepath.Join(here, "go.sum"), filepath.Join(third, "go.sum")))
	require.NoError(t, goCmdIn(third, "mod", "tidy"))
	otherDir := buildIn(t, third, filepath.Join(tmp, "otherdir.so"), ".")

	for _, tc := range []struct {
		name  string
		files []string // opened in this order
	}{
		{"built like the host", []string{filepath.Join(fixtures, "hello.so")}},
		{"-tags the host was not built with", []string{buildIn(t, here, filepath.Join(tmp, "tags.so"), "./testdata/plugins/hello", "-tags=opacorpus")}},
		{"-gcflags on the plugin's own package only", []string{buildIn(t, here, filepath.Join(tmp, "gcflags.so"), "./testdata/plugins/hello", "-gcflags=-N -l")}},
		{"-race unlike the host", []string{extraFixture(t, flippedRace)}},
		{"another version of a module (chi)", []string{extraFixture(t, oldChi)}},
		{"the library from another directory", []string{otherDir}},
		{"a package the host lacks, one version", []string{p1, same}},
		{"a package the host lacks, edited between two plugins", []string{p1, p2}},
		{"the same two, the other way round", []string{p2, p1}},
		{"built from a list of files", []string{files}},
		{"built from a list of files, and a byte copy", []string{files, filesCopy}},
		{"built from a list of files with -pluginpath, and a byte copy", []string{ppath, ppathCopy}},
		{"built from a list of files, with and without -pluginpath", []string{files, ppath}},
		{"the same file twice", []string{hello, hello}},
		{"the same file through a symbolic link", []string{hello, helloLink}},
		{"the same file through a hard link", []string{hard, hardLink}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := runtimeVerdicts(t, tc.files...)
			checked := opa.CheckPlugin(testHost(t), tc.files...)
			for i, f := range tc.files {
				name := filepath.Base(f)
				t.Logf("%s: runtime %q, check %v", name, rt[i], checked[i])
				if rt[i] == "" {
					assert.NoError(t, checked[i], "%s: the runtime loads it, the check must accept it", name)
					continue
				}
				require.Error(t, checked[i], "%s: the runtime refuses it (%s), the check must too", name, rt[i])
				if strings.Contains(rt[i], "different version of package") {
					mm, ok := errors.AsType[*opa.BuildMismatchError](checked[i])
					require.True(t, ok, "%s: a package mismatch is a *BuildMismatchError: %v", name, checked[i])
					assert.NotEmpty(t, mm.Package)
					assert.NotEmpty(t, mm.Differences, "the refusal says why")
				}
			}
		})
	}
}

// TestThirdPartyPlugin is the usual third-party case: a plugin in a module
// of its own, with the library replaced by another directory (as a plugin
// author's checkout is). Built plainly, the check and the host both refuse
// it; built with opa build --host from its own module, it loads and serves,
// and a refused build never reaches the plugin directory.
func TestThirdPartyPlugin(t *testing.T) {
	fixtures := fixtureDir(t)
	here, err := os.Getwd()
	require.NoError(t, err)
	tmp := t.TempDir()
	other := filepath.Join(tmp, "opa-copy")
	copyModule(t, other)
	mod := filepath.Join(tmp, "myplugin")
	writeTree(t, mod, map[string]string{
		"go.mod":  "module example.com/myplugin\n\ngo 1.26\n\nrequire github.com/opa-stack/opa-go v0.0.0\n\nreplace github.com/opa-stack/opa-go => " + other + "\n",
		"main.go": helloSource,
	})
	require.NoError(t, copyFile(filepath.Join(here, "go.sum"), filepath.Join(mod, "go.sum")))
	require.NoError(t, goCmdIn(mod, "mod", "tidy"))
	gomod, err := os.ReadFile(filepath.Join(mod, "go.mod"))
	require.NoError(t, err)

	s := newSandbox(t)
	plain := buildIn(t, mod, s.path("p/myplugin.so"), ".")
	errs := opa.CheckPlugin(testHost(t), plain)
	require.Error(t, errs[0], "built plainly, the check refuses it")
	assert.Contains(t, errs[0].Error(), "package github.com/opa-stack/opa-go differs from the host's copy")
	assert.Contains(t, errs[0].Error(), "from the directory "+here+" without -trimpath, the plugin from "+other)
	s.setenv("OPA_PLUGIN_PATHS=" + s.path("p"))
	res := s.run("-get", "/thirdparty")
	assert.Contains(t, res.StartupError, "plugin myplugin", "the host refuses it before opening it")
	assert.Contains(t, res.StartupError, "differs from the host's copy")
	require.NoError(t, os.Remove(plain))

	cmd := exec.Command(opaCommand(t), "build", "--host", filepath.Join(fixtures, "host"), "-o", s.path("p"), ".")
	cmd.Dir = mod
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "opa build: %s", out)
	assert.Contains(t, string(out), s.path("p/myplugin.so")+": OK")
	after, err := os.ReadFile(filepath.Join(mod, "go.mod"))
	require.NoError(t, err)
	assert.Equal(t, string(gomod), string(after), "opa build leaves the plugin's go.mod alone")
	entries, err := os.ReadDir(s.path("p"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left in the plugin directory")

	res = s.run("-get", "/thirdparty")
	require.Empty(t, res.StartupError, res.Stderr)
	require.Len(t, res.Gets, 1)
	assert.Equal(t, "third party", res.Gets[0].Body, "the plugin built by opa build loads and serves")
}

// opaBinary is the opa command, built once per test binary into the
// fixture directory.
var opaBinary = sync.OnceValues(func() (string, error) {
	out := filepath.Join(fixtures.dir, "opa")
	return out, goCmd(append(append([]string{"build"}, buildFlags()...), "-o", out, "./cmd/opa")...)
})

func opaCommand(t *testing.T) string {
	t.Helper()
	fixtureDir(t)
	bin, err := opaBinary()
	require.NoError(t, err)
	return bin
}

// TestTwoPluginsWithTwoVersionsOfAPackage: two plugins carry different
// versions of a package the host does not link. The second cannot load next
// to the first: opa ls --host and the host both refuse it, before dlopen,
// naming the package and the first plugin; with PLUGIN_ON_ERROR=skip the
// first serves.
func TestTwoPluginsWithTwoVersionsOfAPackage(t *testing.T) {
	here, err := os.Getwd()
	require.NoError(t, err)
	mod := filepath.Join(t.TempDir(), "two")
	plugin := func(route string) string {
		return "package main\n\nimport (\n\t\"net/http\"\n\n\t\"example.com/two/lib\"\n\t\"github.com/go-chi/chi/v5\"\n\t\"github.com/opa-stack/opa-go\"\n)\n\n" +
			"var Plugin = opa.Plugin{Router: router()}\n\nfunc router() chi.Router {\n\tr := opa.GetRouter()\n" +
			"\tr.Get(\"/" + route + "\", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(lib.Word())) })\n\treturn r\n}\n\nfunc main() {}\n"
	}
	writeTree(t, mod, map[string]string{
		"go.mod":     "module example.com/two\n\ngo 1.26\n\nrequire github.com/opa-stack/opa-go v0.0.0\n\nreplace github.com/opa-stack/opa-go => " + here + "\n",
		"lib/lib.go": "package lib\n\n// Word is what both plugins serve.\nfunc Word() string { return \"one\" }\n",
		"a1/main.go": plugin("a1"),
		"b2/main.go": plugin("b2"),
	})
	require.NoError(t, copyFile(filepath.Join(here, "go.sum"), filepath.Join(mod, "go.sum")))
	require.NoError(t, goCmdIn(mod, "mod", "tidy"))
	s := newSandbox(t)
	buildIn(t, mod, s.path("p/a1.so"), "./a1")
	writeTree(t, mod, map[string]string{"lib/lib.go": "package lib\n\n// Word is what both plugins serve.\nfunc Word() string { return \"two\" }\n\n// Added changes the package.\nfunc Added() {}\n"})
	buildIn(t, mod, s.path("p/b2.so"), "./b2")
	s.setenv("OPA_PLUGIN_PATHS=" + s.path("p"))
	want := "package example.com/two/lib differs from plugin a1's copy, so plugin.Open would refuse it"

	cmd := exec.Command(opaCommand(t), "ls", "--path", s.path("p"), "--settings", s.path("settings"), "--host", filepath.Join(fixtureDir(t), "host"))
	cmd.Env = append(cleanEnv(), s.env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Regexp(t, `a1 +\S+ +- +load`, string(out))
	assert.Regexp(t, `b2 +\S+ +- +refuse +build: .*`+regexp.QuoteMeta(want), string(out))

	res := s.run("-get", "/a1")
	assert.Contains(t, res.StartupError, "opa: plugin b2 ("+s.path("p")+"/b2): build: ")
	assert.Contains(t, res.StartupError, want)
	assert.NotContains(t, res.Stderr, "plugin b2 loaded", "refused before it was opened")

	s.setenv("OPA_PLUGIN_ON_ERROR=skip")
	res = s.run("-get", "/a1")
	require.Empty(t, res.StartupError, res.Stderr)
	assert.Equal(t, "one", res.Gets[0].Body, "the first serves")
	b2 := res.plugin(t, "b2")
	assert.False(t, b2.Loaded)
	assert.Equal(t, "build", b2.Step)
	assert.Contains(t, b2.Reason, want)
}

// TestCheckPluginFindsACopy: a copy of a plugin under another name cannot
// load next to it (Go loads a main package once); CheckPlugin says so for
// the second file, as Startup does.
func TestCheckPluginFindsACopy(t *testing.T) {
	s := newSandbox(t)
	first := s.place("hello", "p/hello.so")
	copied := filepath.Join(s.mkdir("q"), "again.so")
	require.NoError(t, copyFile(first, copied))
	errs := opa.CheckPlugin(testHost(t), first, copied)
	require.Len(t, errs, 2)
	assert.NoError(t, errs[0])
	require.Error(t, errs[1])
	assert.Contains(t, errs[1].Error(), copied+" is the same plugin as "+first)
	assert.Equal(t, []string{"", "plugin.Open(\"" + strings.TrimSuffix(copied, ".so") + "\"): plugin already loaded"},
		runtimeVerdicts(t, first, copied), "the runtime agrees")
}

// TestDamagedLineTableIsRefused: a plugin whose package hash conflicts
// with the host's and whose line table claims 4G functions is refused by
// CheckPlugin and by Startup, which go on (the explanation of the conflict
// ran the process out of memory).
func TestDamagedLineTableIsRefused(t *testing.T) {
	s := newSandbox(t)
	plug, err := os.ReadFile(filepath.Join(fixtureDir(t), "hello.so"))
	require.NoError(t, err)
	damaged := filepath.Join(s.mkdir("p"), "damaged.so")
	require.NoError(t, os.WriteFile(damaged, testenv.DamageHashAndNfunctab(t, plug, "runtime"), 0o644))

	errs := opa.CheckPlugin(testHost(t), damaged)
	mm, ok := errors.AsType[*opa.BuildMismatchError](errs[0])
	require.True(t, ok, "a package conflict: %v", errs[0])
	assert.Equal(t, "runtime", mm.Package)
	assert.Equal(t, "the host", mm.With)

	s.setenv("OPA_PLUGIN_PATHS="+s.path("p"), "OPA_PLUGIN_ON_ERROR=skip")
	res := s.run()
	require.Empty(t, res.StartupError, res.Stderr)
	assert.NotContains(t, res.Stderr, "fatal error")
	p := res.plugin(t, "damaged")
	assert.False(t, p.Loaded)
	assert.Equal(t, "build", p.Step)
	assert.Contains(t, p.Reason, "package runtime differs from the host's copy")
}
