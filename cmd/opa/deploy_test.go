package main

import (
	"archive/zip"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// The deploy commands (init, add, remove, build MODULE@VERSION) are tested
// against serve's test host (serve/internal/testhost), a real host that
// reloads on SIGHUP and writes the outcome beside its PID file, built like
// this test binary. Every module comes from the module cache or from a
// file:// GOPROXY the test writes, and GOSUMDB is off: no network.

// waitFor bounds each wait for the host to print a line.
const waitFor = 2 * time.Minute

var serveHostBuild = sync.OnceValues(func() (string, error) {
	dir, err := sharedDir()
	if err != nil {
		return "", err
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "testhost")
	return bin, goBuild(filepath.Join(root, "serve"), append(raceFlags(raceEnabled), "-o", bin, "./internal/testhost")...)
})

// serveHost is serve's test host, built once.
func serveHost(t *testing.T) string {
	t.Helper()
	testenv.Plugins(t, cgoEnabled)
	bin, err := serveHostBuild()
	require.NoError(t, err)
	return bin
}

// offline is the environment of the go command in these tests: modules
// from the module cache, or from proxy ("off": none), no checksum
// database.
func offline(proxy string) []string {
	return []string{"GOPROXY=" + proxy, "GOSUMDB=off", "GOFLAGS=-mod=mod"}
}

// runningHost is the test host and the processes that replaced it.
type runningHost struct {
	*testenv.Group
	pidFile, base string
}

// startHost starts the test host with the plugins of pluginDir and waits
// until it serves.
func startHost(t *testing.T, bin, pluginDir string) *runningHost {
	t.Helper()
	h := &runningHost{pidFile: filepath.Join(t.TempDir(), "host.pid")}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-pidfile", h.pidFile)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPA_") && !strings.HasPrefix(kv, "ENV=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "OPA_SETTINGS_DIR="+t.TempDir(), "OPA_PLUGIN_PATHS="+pluginDir, "OPA_PLUGIN_DEFAULT_PATH="+t.TempDir())
	h.Group = testenv.StartGroup(t, "the test host", cmd)
	line := h.MustWait(t, 0, waitFor, "the test host to serve", func(l string) bool { return strings.HasPrefix(l, "ready ") })
	h.base = strings.Fields(line)[1]
	return h
}

// get sends GET path to the process that serves now.
func (h *runningHost) get(t *testing.T, path string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitFor}
	resp, err := client.Get(h.base + path)
	require.NoError(t, err, "GET %s", path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// pid is the PID of the process that serves, as it says itself.
func (h *runningHost) pid(t *testing.T) int {
	t.Helper()
	code, body := h.get(t, "/pid")
	require.Equal(t, http.StatusOK, code)
	pid, err := strconv.Atoi(body)
	require.NoError(t, err)
	return pid
}

// names lists a directory, hidden files too.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		file := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
		require.NoError(t, os.WriteFile(file, []byte(content), 0o644))
	}
}

// TestDeployIntoRunningHost is the third-party path of the README, outside
// the checkout: opa init writes a plugin module, opa add builds, checks and
// installs it into a running host, which reloads and serves its route;
// opa remove takes it out again. The same module, served as
// MODULE@VERSION by a file:// GOPROXY, is added the same way. Then two
// plugins that cannot load together: the second is refused naming the
// first, and the host serves on; and a plugin the host's Startup refuses:
// opa add says why, puts the directory back, and the old process serves on.
func TestDeployIntoRunningHost(t *testing.T) {
	host := serveHost(t)
	work := t.TempDir()
	plugins := filepath.Join(work, "plugins")
	require.NoError(t, os.Mkdir(plugins, 0o755))
	h := startHost(t, host, plugins)
	env := offline("off")

	res := runOpa(t, work, env, "init", "--host", host, "example.com/myplugin")
	require.Equal(t, 0, res.code, "opa init: %s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "wrote myplugin/go.mod")
	assert.Contains(t, res.stdout, "example.com/myplugin builds and the host accepts it")

	add := func(env []string, target string) result {
		t.Helper()
		return runOpa(t, work, env, "add", "--host", host, "--path", plugins, "--pidfile", h.pidFile, target)
	}
	// --path relative to the current directory, as a user types it: the go
	// command runs in the plugin's directory, and must still write there.
	res = runOpa(t, work, env, "add", "--host", host, "--path", "plugins", "--pidfile", h.pidFile, "./myplugin")
	require.Equal(t, 0, res.code, "opa add: %s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, filepath.Join("plugins", "myplugin.so")+": installed")
	assert.Contains(t, res.stdout, "reloaded: pid ")
	code, body := h.get(t, "/myplugin")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "hello from myplugin\n", body)
	assert.Equal(t, []string{"myplugin-meta.json", "myplugin.so"}, names(t, plugins), "the meta.json comes along; no temporary file is left")

	res = runOpa(t, work, env, "remove", "--path", plugins, "--pidfile", h.pidFile, "myplugin")
	require.Equal(t, 0, res.code, "opa remove: %s%s", res.stdout, res.stderr)
	code, _ = h.get(t, "/myplugin")
	assert.Equal(t, http.StatusNotFound, code, "removed, the route is gone")
	assert.Empty(t, names(t, plugins))

	t.Run("MODULE@VERSION", func(t *testing.T) {
		proxy := writeProxy(t, "example.com/myplugin", "v1.0.0", filepath.Join(work, "myplugin"))
		res := add(offline("file://"+proxy), "example.com/myplugin@v1.0.0")
		require.Equal(t, 0, res.code, "opa add MODULE@VERSION: %s%s", res.stdout, res.stderr)
		assert.Contains(t, res.stdout, "github.com/opa-stack/opa-go v0.0.0 => "+repoRoot(t)+" (the directory the host built it from)",
			"the unpublished opa-go comes from the host's source, and it says so")
		code, body := h.get(t, "/myplugin")
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "hello from myplugin\n", body)
		res = runOpa(t, work, env, "ls", "--path", plugins, "--host", host, "--json")
		require.Equal(t, 0, res.code, res.stderr)
		assert.Contains(t, res.stdout, `"module": "example.com/myplugin",`, "the module and version, from the .so's build information")
		assert.Contains(t, res.stdout, `"version": "v1.0.0"`)
		res = runOpa(t, work, env, "remove", "--path", plugins, "--pidfile", h.pidFile, "myplugin")
		require.Equal(t, 0, res.code, "opa remove: %s%s", res.stdout, res.stderr)
	})

	t.Run("a conflict is refused", func(t *testing.T) {
		two := filepath.Join(work, "two")
		plugin := func(route string) string {
			return "package main\n\nimport (\n\t\"net/http\"\n\n\t\"example.com/two/lib\"\n\t\"github.com/opa-stack/opa-go\"\n)\n\n" +
				"var Plugin = opa.Plugin{Router: opa.GetRouter()}\n\nfunc init() {\n" +
				"\tPlugin.Router.Get(\"/" + route + "\", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(lib.Word())) })\n}\n\nfunc main() {}\n"
		}
		write(t, two, map[string]string{
			"go.mod":     "module example.com/two\n\ngo 1.26\n\nrequire github.com/opa-stack/opa-go v0.0.0\n",
			"lib/lib.go": "package lib\n\n// Word is what both plugins serve.\nfunc Word() string { return \"one\" }\n",
			"a1/main.go": plugin("a1"),
			"b2/main.go": plugin("b2"),
		})
		res := add(env, "./two/a1")
		require.Equal(t, 0, res.code, "opa add a1: %s%s", res.stdout, res.stderr)
		_, body := h.get(t, "/a1")
		assert.Equal(t, "one", body)
		pid := h.pid(t)

		write(t, two, map[string]string{"lib/lib.go": "package lib\n\n// Word is what both plugins serve.\nfunc Word() string { return \"two\" }\n\n// Added changes the package.\nfunc Added() {}\n"})
		res = add(env, "./two/b2")
		assert.Equal(t, 1, res.code, "%s%s", res.stdout, res.stderr)
		assert.Contains(t, res.stdout, filepath.Join(plugins, "b2.so")+": REFUSED (not written)")
		assert.Contains(t, res.stdout, "package example.com/two/lib differs from")
		assert.Contains(t, res.stdout, "plugin a1", "the refusal names the plugin installed")
		assert.Equal(t, []string{"a1.so"}, names(t, plugins))
		assert.Equal(t, pid, h.pid(t), "no reload")
		_, body = h.get(t, "/a1")
		assert.Equal(t, "one", body, "the host serves on")
	})

	t.Run("a failed reload", func(t *testing.T) {
		pid := h.pid(t)
		write(t, filepath.Join(work, "needy"), map[string]string{
			"go.mod": "module example.com/needy\n\ngo 1.26\n\nrequire github.com/opa-stack/opa-go v0.0.0\n",
			"main.go": "package main\n\nimport \"github.com/opa-stack/opa-go\"\n\n" +
				"// Plugin requires a hook that no plugin provides.\nvar Plugin = opa.Plugin{HookDefinitions: []opa.HookDefinition{{Name: \"auth\", Required: true}}}\n\nfunc main() {}\n",
		})
		before := names(t, plugins)
		res := add(env, "./needy")
		assert.Equal(t, 1, res.code, "%s%s", res.stdout, res.stderr)
		assert.Contains(t, res.stderr, "the host did not take the new plugin set: process "+strconv.Itoa(pid)+" serves on")
		assert.Contains(t, res.stderr, "Hooks that should be registered: [auth]", "the host's reason")
		assert.Contains(t, res.stdout, plugins+": put back as it was")
		assert.Equal(t, before, names(t, plugins))
		assert.Equal(t, pid, h.pid(t), "the old process serves on")
	})
}

// writeProxy writes a file:// GOPROXY serving the module in dir as
// modPath@version, laid out as the GOPROXY protocol says: list, .info,
// .mod and .zip under modPath/@v. It returns its directory.
func writeProxy(t *testing.T, modPath, version, dir string) string {
	t.Helper()
	proxy := t.TempDir()
	v := filepath.Join(proxy, filepath.FromSlash(modPath), "@v")
	require.NoError(t, os.MkdirAll(v, 0o755))
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	require.NoError(t, err)
	write(t, v, map[string]string{
		"list":            version + "\n",
		version + ".info": `{"Version":"` + version + `","Time":"2026-01-01T00:00:00Z"}`,
		version + ".mod":  string(gomod),
	})
	f, err := os.Create(filepath.Join(v, version+".zip"))
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		w, err := zw.Create(modPath + "@" + version + "/" + e.Name())
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	return proxy
}

// TestBuildShowsWhatItChanged: a plugin that asks for newer modules than
// the host has, ignores the plugin's own replace, and requires the
// unpublished opa-go without a replace. opa build takes opa-go from the
// host's directory and prints every change before the go command;
// --no-downgrade refuses; and a plugin that needs the newer API fails with
// an error that names the downgrade.
func TestBuildShowsWhatItChanged(t *testing.T) {
	host := serveHost(t)
	mod := filepath.Join(t.TempDir(), "newer")
	main := func(call string) string {
		return "package main\n\nimport (\n\t\"github.com/opa-stack/opa-go\"\n\t\"golang.org/x/sys/unix\"\n)\n\n" +
			"// Plugin does nothing.\nvar Plugin = opa.Plugin{}\n\nvar _ = " + call + "\n\nfunc main() {}\n"
	}
	write(t, mod, map[string]string{
		"go.mod": "module example.com/newer\n\ngo 1.26\n\nrequire (\n\tgithub.com/opa-stack/opa-go v0.0.0\n\tgolang.org/x/sys v0.49.0\n)\n\n" +
			"replace github.com/go-chi/chi/v5 => github.com/go-chi/chi/v5 v5.4.0\n",
		"main.go": main("unix.Getpid"),
	})
	out := t.TempDir()
	env := offline("off")
	res := runOpa(t, mod, env, "build", "--host", host, "-o", out, ".")
	require.Equal(t, 0, res.code, "%s%s", res.stdout, res.stderr)
	lines := strings.Split(res.stdout, "\n")
	want := []string{
		"github.com/opa-stack/opa-go v0.0.0 => " + repoRoot(t) + " (the directory the host built it from; the plugin's go.mod has no replace for it)",
		"golang.org/x/sys v0.49.0 -> v0.29.0 (the host's)",
		"replace github.com/go-chi/chi/v5 => github.com/go-chi/chi/v5 v5.4.0 ignored: the host built v5.5.0",
	}
	goLine := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, " go build ") })
	require.GreaterOrEqual(t, goLine, 0, res.stdout)
	for _, w := range want {
		i := slices.Index(lines, w)
		assert.True(t, i >= 0 && i < goLine, "%q is printed before the go command:\n%s", w, res.stdout)
	}
	assert.Contains(t, res.stdout, filepath.Join(out, "newer.so")+": OK")

	res = runOpa(t, mod, env, "build", "--no-downgrade", "--host", host, "-o", out, ".")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "--no-downgrade: the host's modules are older than the plugin asks for:\n    golang.org/x/sys v0.49.0 -> v0.29.0 (the host's)")
	assert.NotContains(t, res.stdout, " go build ", "refused before building")

	write(t, mod, map[string]string{"main.go": main("unix.SetMemPolicy")}) // in x/sys v0.49.0, not in v0.29.0
	res = runOpa(t, mod, env, "build", "--host", host, "-o", out, ".")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "undefined: unix.SetMemPolicy")
	assert.Contains(t, res.stderr, "it was built with older modules than it asks for, which may be the cause:\n    golang.org/x/sys v0.49.0 -> v0.29.0 (the host's)")
}
