package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/opa-stack/opa-go/internal/preflight"
)

var initCommand = &command{
	name:    "init",
	summary: "write a plugin module that builds and loads on the first try",
	usage:   "init [--host BINARY] MODULE [DIR]",
	help: `Writes a new plugin module MODULE into DIR (default: the last element of
MODULE, in the current directory; it must not exist or be empty): a go.mod
that requires opa-go at the host's version, with a replace to the
directory the host built opa-go from when it was built from one; a main.go
with var Plugin serving GET /NAME (NAME being the last element of MODULE)
and a commented hook; a meta.json; and a short README. Then it runs go mod
tidy.

With --host, it also builds the plugin once, as opa build does, and checks
it against the host (into a temporary directory: opa add installs it).
Without --host, opa-go is required at this opa binary's version.

Exit status: 0 written (and built), 1 the build or check failed, 2 a usage
error (DIR not empty).`,
	examples: `  opa init --host /usr/local/bin/myhost example.com/myplugin
  opa init example.com/greetings ./plugins/greetings`,
	flags: func(fs *flag.FlagSet) func(*cli, []string) int {
		host := fs.String("host", "", "the host `BINARY` the plugin is for")
		return func(c *cli, args []string) int { return runInit(c, *host, args) }
	},
}

// module is the library's module path.
const module = "github.com/opa-stack/opa-go"

// chiModule is the router's module, which a new plugin imports.
const chiModule = "github.com/go-chi/chi/v5"

func runInit(c *cli, hostFile string, args []string) int {
	if len(args) == 0 || len(args) > 2 {
		return c.usageErr("give MODULE, and DIR if not ./NAME")
	}
	mod := args[0]
	name := path.Base(mod)
	if mod == "" || strings.ContainsAny(mod, " @\\") || name == "." || strings.HasPrefix(name, ".") {
		return c.usageErr("%q is not a module path: give one like example.com/myplugin", mod)
	}
	dir := name
	if len(args) == 2 {
		dir = args[1]
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return c.usageErr("%s is not empty: give a new directory", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return c.usageErr("%s: %v", dir, cause(err))
	}
	var host *debug.BuildInfo
	if hostFile != "" {
		var err error
		if host, err = readHost(hostFile); err != nil {
			return c.usageErr("%v", err)
		}
	}
	require, replace := opaRequirement(hostFile, host)
	gomod := "module " + mod + "\n\ngo " + goLine(host) + "\n\nrequire (\n\t" + module + " " + require + "\n"
	if host != nil {
		// main.go imports chi: at the host's version, go mod tidy need
		// not look for the latest.
		if d := hostModules(host, "")[chiModule]; d != nil && d.Version != "" {
			gomod += "\t" + chiModule + " " + d.Version + "\n"
		}
	}
	gomod += ")\n"
	if replace != "" {
		gomod += "\n// The host was built with opa-go from this directory.\nreplace " + module + " => " + replace + "\n"
	}
	files := map[string]string{
		"go.mod":    gomod,
		"main.go":   strings.ReplaceAll(initMain, "NAME", name),
		"meta.json": "{\n  \"tags\": []\n}\n",
		"README.md": strings.NewReplacer("NAME", name, "MODULE", mod).Replace(initReadme),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	for _, f := range []string{"go.mod", "main.go", "meta.json", "README.md"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(files[f]), 0o644); err != nil {
			c.errorf("%v", err)
			return exitFailed
		}
		fmt.Fprintf(c.stdout, "wrote %s\n", filepath.Join(dir, f))
	}
	if _, err := (goRunner{env: os.Environ(), dir: dir}).output("mod", "tidy"); err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	if host == nil {
		return exitOK
	}
	b, err := newBuilder(c, hostFile, host)
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	out, err := os.MkdirTemp("", "opa-init-")
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	defer os.RemoveAll(out)
	built, err := b.build(dir, []string{"."}, out, false)
	defer removeTemps(built)
	if err != nil {
		c.errorf("%v", err)
		return exitFailed
	}
	if !b.check(built, nil) {
		return exitFailed
	}
	fmt.Fprintf(c.stdout, "%s builds and the host accepts it: opa add --host %s --path PLUGIN_DIR %s\n", mod, hostFile, dir)
	return exitOK
}

// opaRequirement is the version of opa-go a new plugin requires, and the
// directory to replace it with, if any: the host's (its own module, or a
// dependency), else this opa binary's.
func opaRequirement(hostFile string, host *debug.BuildInfo) (version, replace string) {
	if host == nil {
		if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
			return info.Main.Version, ""
		}
		return "v0.0.0", ""
	}
	d := hostModules(host, "")[module]
	if d == nil {
		return "v0.0.0", ""
	}
	version = d.Version
	if version == "" || version == "(devel)" {
		version = "v0.0.0"
	}
	if fromDirectory(host, d) {
		if dir := preflight.ModuleDir(hostFile, module); dir != "" {
			return version, dir
		}
	}
	if d.Replace != nil && d.Replace.Version != "" && d.Replace.Version != "(devel)" {
		return version, d.Replace.Path + " " + d.Replace.Version
	}
	return version, ""
}

// goLine is the go directive of a new module: the host's Go version.
func goLine(host *debug.BuildInfo) string {
	v := "1.26"
	if host != nil {
		if s, _, _ := strings.Cut(strings.TrimPrefix(host.GoVersion, "go"), " "); s != "" {
			v = s
		}
	}
	return v
}

const initMain = `// Command NAME is an opa-go plugin: build it with
//
//	opa add --host HOST_BINARY --path PLUGIN_DIR .
package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

// Plugin is what the host loads.
var Plugin = opa.Plugin{
	Router: router(),
	// A hook: a function other plugins and the host call by name. The
	// highest Order wins.
	//
	//	Hooks: []opa.Hook{{Name: "fullname", Func: func(first, last string) string {
	//		return first + " " + last
	//	}}},
}

func router() chi.Router {
	r := opa.GetRouter()
	r.Get("/NAME", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("hello from NAME\n"))
	})
	return r
}

func main() {}
`

const initReadme = "# NAME\n\nAn opa-go plugin (module `MODULE`). It serves `GET /NAME`.\n\n" +
	"Build, check and install it into a running host:\n\n" +
	"```sh\nopa add --host $HOST --path $PLUGIN_DIR --pidfile $HOST_PIDFILE .\n```\n\n" +
	"`$HOST` is the host binary, `$PLUGIN_DIR` one of its plugin paths and\n" +
	"`$HOST_PIDFILE` its PID file. `opa build --host $HOST -o DIR .` only builds it.\n"
