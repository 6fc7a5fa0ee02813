// Command opa answers the two questions operators of an opa-go host ask:
// "why didn't my plugin load?" and "what must I build this plugin with so
// that the host accepts it?", and deploys plugins into a running host. It
// runs the library's own code, so its answers are the host's.
//
// Install it from a clone with go install ./cmd/opa (or make install);
// go install github.com/opa-stack/opa-go/cmd/opa@latest works once the
// module is published.
//
// Usage:
//
//	opa ls     [--settings DIR] [--env NAME] [--path DIR]... [--default-path DIR] [--host BINARY] [--json]
//	opa check  --host BINARY FILE.so...
//	opa build  --host BINARY [-o DIR] [--no-downgrade] PACKAGE... | MODULE@VERSION...
//	opa add    --host BINARY [--path DIR] [--pidfile FILE] [--timeout D] [--lock] [--no-downgrade] TARGET...
//	opa remove [--host BINARY] [--path DIR] [--pidfile FILE] [--timeout D] [--report URL] NAME...
//	opa lock   [--host BINARY] DIR
//	opa fleet  [--file FILE] [--header 'NAME: VALUE']... [--timeout D] URL...
//	opa init   [--host BINARY] MODULE [DIR]
//	opa help   [COMMAND]
//
// ls lists every plugin the host would find, with the library's discovery,
// filters and preflight checks and its configuration sources, and says
// whether each would load and why not; it opens nothing. check runs the
// preflight a host runs on a .so file (ELF sanity, build comparison with
// the host binary). build runs go build -buildmode=plugin with every setting
// that must match the host binary, then checks what it built; each package
// becomes DIR/NAME.so, NAME being the last element of its import path.
// add builds, checks against the host and the plugins installed, installs
// by rename and reloads the host; remove takes plugins out the same way;
// init writes a new plugin module. lock records a plugin directory in its
// opa.lock, which the host enforces; fleet compares the fingerprints of
// running instances.
//
// Exit status: 0 done (ls: even when some plugins would be refused), 1 a
// plugin would be refused, a build failed or the settings are bad, 2 a usage
// error (a bad flag, a missing file). fleet: 1 the instances differ, 2 one
// could not be read.
package main

import (
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/opa-stack/opa-go/internal/preflight"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	programName = "opa"
)

// command is one subcommand.
type command struct {
	name     string
	summary  string // one line for the overview
	usage    string // the synopsis, after "Usage: opa "
	help     string // what it does; printed before the flags
	examples string // printed after the flags
	// flags defines the command's flags on fs and returns the func that
	// runs it, once they are parsed, with the other arguments.
	flags func(fs *flag.FlagSet) func(c *cli, args []string) int
}

// commands are in the order the overview lists them.
var commands = []*command{lsCommand, checkCommand, buildCommand, addCommand, removeCommand, lockCommand, fleetCommand, initCommand}

// cli is where a command writes.
type cli struct {
	stdout, stderr io.Writer
	cmd            string // for messages: "opa ls"
}

// errorf prints a message prefixed with the command name to stderr.
func (c *cli) errorf(format string, args ...any) {
	fmt.Fprintf(c.stderr, "%s: %s\n", c.cmd, fmt.Sprintf(format, args...))
}

// usageErr prints a usage error and returns exitUsage.
func (c *cli) usageErr(format string, args ...any) int {
	c.errorf(format, args...)
	fmt.Fprintf(c.stderr, "Run '%s --help' for usage.\n", c.cmd)
	return exitUsage
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, cmd: programName}
	if len(args) == 0 {
		overview(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) == 1 || args[0] != "help" {
			overview(stdout)
			return exitOK
		}
		if cmd := lookup(args[1]); cmd != nil {
			fs, _ := newFlagSet(cmd, stdout)
			fs.Usage()
			return exitOK
		}
		return c.usageErr("unknown command %q (commands: %s)", args[1], commandNames())
	}
	cmd := lookup(args[0])
	if cmd == nil {
		return c.usageErr("unknown command %q (commands: %s)", args[0], commandNames())
	}
	c.cmd = programName + " " + cmd.name
	fs, runCmd := newFlagSet(cmd, io.Discard) // errors are printed below, in short
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK
		}
		return c.usageErr("%v", err)
	}
	rest := fs.Args()
	if i := slices.IndexFunc(rest, func(a string) bool { return strings.HasPrefix(a, "-") && a != "-" }); i >= 0 {
		return c.usageErr("flag %s after the arguments: put flags first (%s)", rest[i], cmd.usage)
	}
	return runCmd(c, rest)
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func commandNames() string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	return strings.Join(names, ", ")
}

// overview is the help of the opa command itself.
func overview(w io.Writer) {
	fmt.Fprint(w, `opa explains, checks and builds Go plugins for hosts built with
github.com/opa-stack/opa-go, with the library's own code.

Usage:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %s %s\n      %s\n", programName, c.usage, c.summary)
	}
	fmt.Fprintf(w, "  %s help [COMMAND]\n      %s\n", programName, "show a command's flags and examples")
	fmt.Fprint(w, `
Examples:
  opa ls --host /usr/local/bin/myhost
  opa check --host /usr/local/bin/myhost /data/opa/plugins/hello.so
  opa build --host /usr/local/bin/myhost -o /data/opa/plugins ./plugins/hello

Exit status: 0 done (ls: even when some plugins would be refused),
1 a plugin would be refused or a build failed, 2 a usage error;
fleet: 1 the instances differ, 2 an instance could not be read.
`)
}

// newFlagSet makes the flag set of cmd and the func that runs it; its
// Usage prints the command's help to w (or wherever SetOutput later points).
func newFlagSet(cmd *command, w io.Writer) (*flag.FlagSet, func(c *cli, args []string) int) {
	fs := flag.NewFlagSet(programName+" "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(w)
	runCmd := cmd.flags(fs)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: %s %s\n\n%s\n\nFlags:\n", programName, cmd.usage, strings.TrimSpace(cmd.help))
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			dashes := "--"
			if len(f.Name) == 1 {
				dashes = "-"
			}
			if f.DefValue != "" && f.DefValue != "false" {
				usage += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(out, "  %s\n        %s\n", strings.TrimSpace(dashes+f.Name+" "+name), usage)
		})
		fmt.Fprintf(out, "\nExamples:\n%s\n", strings.TrimRight(cmd.examples, "\n"))
	}
	return fs, runCmd
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// readHost reads the build information of the host binary named by --host.
// Its errors are usage errors: they name the flag and the file.
func readHost(file string) (*debug.BuildInfo, error) {
	if file == "" {
		return nil, errors.New("--host is required: the binary that will load the plugins")
	}
	// Opened without blocking, and only if it is a regular file: a FIFO
	// named as the host would hang opa.
	f, _, err := preflight.OpenFile(file)
	if nr, ok := errors.AsType[*preflight.NotRegularError](err); ok {
		if nr.Mode.IsDir() {
			return nil, fmt.Errorf("--host %s: is a directory, not the host binary", file)
		}
		return nil, fmt.Errorf("--host %s: is %s, not a regular file: give the host binary itself", file, nr.Type())
	}
	if err != nil {
		return nil, fmt.Errorf("--host %s: %w", file, cause(err))
	}
	defer f.Close()
	info, err := buildinfo.Read(f)
	if err != nil {
		return nil, fmt.Errorf("--host %s: has no Go build information (%v): give the host binary itself, built by go build", file, cause(err))
	}
	if settingsOf(info)["-buildmode"] == "plugin" {
		return nil, fmt.Errorf("--host %s: is a plugin (-buildmode=plugin), not a host: give the binary that loads the plugins", file)
	}
	return info, nil
}

// cause is what err wraps, if anything: the reason without the file name
// (the messages name the file themselves).
func cause(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// cannotLoad says why a host built like info cannot open .so plugins at
// all, or returns "": Go loads them only with cgo on linux, darwin and
// freebsd.
func cannotLoad(info *debug.BuildInfo) string {
	s := settingsOf(info)
	if s["CGO_ENABLED"] == "0" {
		return "the host was built with CGO_ENABLED=0, so it cannot open any .so plugin: rebuild the host with CGO_ENABLED=1, or compile the plugins in with opa.Register"
	}
	switch goos := s["GOOS"]; goos {
	case "", "linux", "darwin", "freebsd":
	default:
		return "the host was built for GOOS=" + goos + ", where Go cannot open .so plugins: compile the plugins in with opa.Register"
	}
	return ""
}

// hostWarnings are what opa says before checking plugins for a host built
// like info: that it cannot load any (cannotLoad), or that it was built for
// another GOARCH than this machine's, which the ELF check compares with.
func hostWarnings(info *debug.BuildInfo) []string {
	var out []string
	if why := cannotLoad(info); why != "" {
		out = append(out, why)
	}
	if arch := settingsOf(info)["GOARCH"]; arch != "" && arch != runtime.GOARCH {
		out = append(out, "the host was built for GOARCH="+arch+", and the ELF check compares with this machine ("+runtime.GOARCH+"): run opa on a machine like the host's")
	}
	return out
}

// settingsOf returns a binary's build settings by key.
func settingsOf(info *debug.BuildInfo) map[string]string {
	m := make(map[string]string, len(info.Settings))
	for _, s := range info.Settings {
		m[s.Key] = s.Value
	}
	return m
}
