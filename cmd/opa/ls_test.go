package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lsSandbox lays out plugin paths and a settings directory:
//
//	p1/hello.so   loads
//	p1/beta.so    tagged beta, which the production settings filter out
//	p1/bad.so     empty
//	p2/hello.so   shadowed by p1/hello
//	p2/flipped.so built with the other -race
//
// The settings file names the paths; the default path comes from an OPA_
// variable; --settings and --env pick the file and its section.
func lsSandbox(t *testing.T, f fixtureSet) (root string, env []string) {
	t.Helper()
	root = t.TempDir()
	place := func(src, rel string) {
		dst := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.Link(src, dst))
	}
	write := func(rel, content string) {
		dst := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.WriteFile(dst, []byte(content), 0o644))
	}
	place(f.hello, "p1/hello.so")
	place(f.hello, "p1/beta.so")
	write("p1/beta-meta.json", `{"tags": ["beta"], "owner": "team-a"}`)
	write("p1/bad.so", "")
	place(f.hello, "p2/hello.so")
	place(f.flipped, "p2/flipped.so")
	write("settings/settings.yaml", "default:\n  PLUGIN_PATHS: ["+root+"/p1, "+root+"/p2]\n"+
		"production:\n  PLUGIN_BLACKLIST_TAGS: [beta]\n")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "default"), 0o755))
	return root, []string{"OPA_PLUGIN_DEFAULT_PATH=" + root + "/default"}
}

// tableRows parses the table opa ls prints: a row per plugin, its cells.
func tableRows(t *testing.T, out string) [][]string {
	t.Helper()
	_, table, ok := strings.Cut(out, "\nNAME ")
	require.True(t, ok, out)
	var rows [][]string
	for _, line := range strings.Split(table, "\n")[1:] {
		if line == "" {
			break
		}
		cells := regexp.MustCompile(`  +`).Split(line, 5)
		rows = append(rows, append(cells, make([]string, 5-len(cells))...))
	}
	return rows
}

func TestLsTable(t *testing.T) {
	f := fixtures(t)
	root, env := lsSandbox(t, f)
	res := runOpa(t, root, env, "ls", "--settings", root+"/settings", "--env", "production", "--host", f.host)
	require.Equal(t, 0, res.code, "refused plugins do not change the exit status: %s", res.stderr)
	assert.Contains(t, res.stdout, "settings: "+root+"/settings, ENV=production\n")
	assert.Contains(t, res.stdout, "search:   "+root+"/p1, "+root+"/p2, "+root+"/default (default)\n")
	assert.Contains(t, res.stdout, "build:    compared with "+f.host+" (go")
	assert.Equal(t, [][]string{
		{"bad", root + "/p1/bad", "-", "refuse", "preflight: is empty (0 bytes): rebuild it or copy it again"},
		{"beta", root + "/p1/beta", "beta", "skip", "has a tag in PLUGIN_BLACKLIST_TAGS"},
		{"hello", root + "/p1/hello", "-", "load", ""},
		{"flipped", root + "/p2/flipped", "-", "refuse", "build: package runtime differs from the host's copy, so plugin.Open would refuse it: " + raceMismatch()},
		{"hello", root + "/p2/hello", "-", "skip", "shadowed by " + root + "/p1/hello"},
	}, tableRows(t, res.stdout))
	assert.Contains(t, res.stdout, "\n1 would load, 2 skipped, 2 refused: the host's Startup fails (PLUGIN_ON_ERROR=fail)\n")

	// A blacklist that names hello by its bare name does not apply (filters
	// see match strings), and the row says so.
	res = runOpa(t, root, append(env, "OPA_PLUGIN_BLACKLIST_LIST=hello"), "ls", "--settings", root+"/settings", "--env", "production", "--host", f.host)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, tableRows(t, res.stdout), []string{"hello", root + "/p1/hello", "-", "load",
		`note: PLUGIN_BLACKLIST_LIST lists the plugin's name "hello", not its match string "` + root + `/p1/hello", so it did not apply`})

	// A tag filter's typo is a warning, with or without --host.
	res = runOpa(t, root, append(env, "OPA_SETTINGS_DIR="+root+"/settings", "OPA_PLUGIN_WHITELIST_TAGS=Beta"), "ls")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "\nwarning:  PLUGIN_WHITELIST_TAGS names the tag \"Beta\", which no plugin found has (did you mean \"beta\"? tags compare exactly)\n")
	res = runOpa(t, root, append(env, "OPA_SETTINGS_DIR="+root+"/settings", "OPA_PLUGIN_WHITELIST_TAGS=Beta"), "ls", "--json", "--host", f.host)
	require.Equal(t, 0, res.code, res.stderr)
	var got lsResult
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got), res.stdout)
	assert.Equal(t, []string{`PLUGIN_WHITELIST_TAGS names the tag "Beta", which no plugin found has (did you mean "beta"? tags compare exactly)`}, got.Warnings)

	// PLUGIN_ON_ERROR=skip: the same decisions, and the host starts.
	res = runOpa(t, root, append(env, "OPA_PLUGIN_ON_ERROR=skip"), "ls", "--settings", root+"/settings", "--env", "production", "--host", f.host)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "2 refused: the host leaves refused plugins out and starts (PLUGIN_ON_ERROR=skip)\n")
}

// Without --host nothing is compared with a host, and every other check
// runs: with no tag filter, beta (a copy of hello) now loads, hello is
// refused as its copy, and flipped (built with the other -race) is refused
// because it cannot load next to beta, as plugin.Open would find in any
// host.
func TestLsWithoutHostChecksPluginsAgainstEachOther(t *testing.T) {
	f := fixtures(t)
	root, env := lsSandbox(t, f)
	res := runOpa(t, root, append(env, "OPA_SETTINGS_DIR="+root+"/settings"), "ls") // ENV unset: development, no filter
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "build:    NOT compared with a host: no --host given, and this opa binary is not your host; plugins are checked against each other\n")
	assert.Equal(t, [][]string{
		{"bad", root + "/p1/bad", "-", "refuse", "preflight: is empty (0 bytes): rebuild it or copy it again"},
		{"beta", root + "/p1/beta", "beta", "load", notCompared},
		{"hello", root + "/p1/hello", "-", "refuse", "identity: is the same plugin as " + root + "/p1/beta.so (both built from " +
			module + "/testdata/plugins/hello, and Go loads a plugin once): remove one of them, or build them from different main packages"},
		{"flipped", root + "/p2/flipped", "-", "refuse", "build: package runtime differs from plugin beta's copy, so plugin.Open would refuse it: " +
			strings.ReplaceAll(raceMismatch(), "host ", "plugin beta ")},
		{"hello", root + "/p2/hello", "-", "skip", "shadowed by " + root + "/p1/hello"},
	}, tableRows(t, res.stdout))
}

func TestLsJSON(t *testing.T) {
	f := fixtures(t)
	root, env := lsSandbox(t, f)
	res := runOpa(t, root, env, "ls", "--json", "--settings", root+"/settings", "--env", "production", "--host", f.host)
	require.Equal(t, 0, res.code, res.stderr)
	var got lsResult
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got), res.stdout)
	assert.Equal(t, root+"/settings", got.SettingsDir)
	assert.Equal(t, "production", got.Env)
	assert.Equal(t, []string{root + "/p1", root + "/p2"}, got.PluginPaths)
	assert.Equal(t, root+"/default", got.DefaultPluginPath)
	assert.Equal(t, f.host, got.Host)
	assert.Equal(t, "fail", got.OnError)
	require.Len(t, got.Plugins, 5)
	type decision struct{ name, decision, step, reason string }
	var decisions []decision
	for _, p := range got.Plugins {
		decisions = append(decisions, decision{p.Name, p.Decision, p.Step, p.Reason})
	}
	assert.Equal(t, []decision{
		{"bad", "refuse", "preflight", root + "/p1/bad.so is empty (0 bytes): rebuild it or copy it again"},
		{"beta", "skip", "", "has a tag in PLUGIN_BLACKLIST_TAGS"},
		{"hello", "load", "", ""},
		{"flipped", "refuse", "build", root + "/p2/flipped.so: package runtime differs from the host's copy, so plugin.Open would refuse it: " + raceMismatch()},
		{"hello", "skip", "", "shadowed by " + root + "/p1/hello"},
	}, decisions)
	assert.Equal(t, []string{"beta"}, got.Plugins[1].Tags)
	assert.JSONEq(t, `"team-a"`, string(got.Plugins[1].Meta["owner"]))
	assert.Equal(t, root+"/p2/flipped.so", got.Plugins[3].File)

	// --path replaces PLUGIN_PATHS: p2's hello is no longer shadowed.
	res = runOpa(t, root, env, "ls", "--json", "--settings", root+"/settings", "--path", root+"/p2", "--host", f.host)
	require.Equal(t, 0, res.code, res.stderr)
	got = lsResult{}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got), res.stdout)
	assert.Equal(t, []string{root + "/p2"}, got.PluginPaths)
	require.Len(t, got.Plugins, 2)
	assert.Equal(t, []string{"flipped", "refuse"}, []string{got.Plugins[0].Name, got.Plugins[0].Decision})
	assert.Equal(t, []string{"hello", "load"}, []string{got.Plugins[1].Name, got.Plugins[1].Decision})
}

func TestLsBadSettings(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "settings.yaml"), []byte("default:\n  PLUGIN_WHITELIST_RE: \"(\"\n"), 0o644))
	res := runOpa(t, dir, nil, "ls", "--settings", dir)
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "opa ls: opa: config")
	assert.Contains(t, res.stderr, "PLUGIN_WHITELIST_RE")
	assert.Empty(t, res.stdout)
}

// opa ls refuses the typos of issue 19 as the host's Startup does: exit
// status 1, the source, the key and the closest known key. A host key outside
// the library's namespace is not reported.
func TestLsUnknownSettings(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "opa.yaml"), []byte(content), 0o644))
	}
	tests := []struct {
		name, file string
		env        []string
		want       string
	}{
		{"a file", "default:\n  PLUGIN_WHITELIST_TAG: [web]\n", nil,
			"opa ls: opa: config " + filepath.Join(dir, "opa.yaml") + " [default]: unknown setting PLUGIN_WHITELIST_TAG (did you mean PLUGIN_WHITELIST_TAGS?)\n"},
		{"a variable", "", []string{"OPA_PLUGIN_PATH=/srv/plugins"},
			"opa ls: opa: config env OPA_PLUGIN_PATH: unknown setting PLUGIN_PATH (did you mean PLUGIN_PATHS?)\n"},
		{"a component key", "default:\n  OPTIONAL_COMPONENTS: {cache: {DRIVER: redis}}\n", []string{"OPA_OPTIONAL_COMPONENTS__CACHE__LAOD=no"},
			"opa ls: opa: config env OPA_OPTIONAL_COMPONENTS__CACHE__LAOD: unknown setting OPTIONAL_COMPONENTS.CACHE.LAOD (did you mean LOAD?)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.file)
			res := runOpa(t, dir, tc.env, "ls", "--settings", dir, "--path", dir)
			assert.Equal(t, 1, res.code, res.stderr)
			assert.Equal(t, tc.want, res.stderr)
			assert.Empty(t, res.stdout)
		})
	}
	t.Run("a host key stays silent", func(t *testing.T) {
		write("default:\n  MY_APP_SETTING: 1\n")
		res := runOpa(t, dir, []string{"OPA_MY_APP_SETTING=2"}, "ls", "--settings", dir, "--path", dir, "--default-path", t.TempDir())
		assert.Equal(t, 0, res.code, res.stderr)
		assert.Empty(t, res.stderr)
	})
}

func TestLsNoPlugins(t *testing.T) {
	dir := t.TempDir()
	def := t.TempDir()
	res := runOpa(t, dir, nil, "ls", "--settings", dir, "--path", dir, "--default-path", def)
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "search:   "+dir+", "+def+" (default)\n")
	assert.Contains(t, res.stdout, "\nno plugins found\n")
}
