package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/opa-stack/opa-go"
)

var checkCommand = &command{
	name:    "check",
	summary: "would the host accept these .so files?",
	usage:   "check --host BINARY FILE.so...",
	help: `Runs on each file the checks a host runs before it opens a plugin, with
the library's own code (opa.CheckPlugin), in the order given, as a host
loads them: the permission rule (the file and every directory on its real
path, symlinks resolved, up to / writable only by their owners, sticky
directories such as /tmp aside, and owned by root or this user; off when
OPA_PLUGIN_ALLOW_INSECURE_PERMISSIONS=true), a complete ELF shared object
for this machine, not a copy of a file named before it (Go loads a main
package once), and whether its packages can load next to the host
binary's and those of the files named before it, decided from the package
hashes both export exactly as plugin.Open decides. A refusal names the
package, whose copy it differs from, and why, from the build information
(Go version, -race, -trimpath, -tags, GOEXPERIMENT, CGO_ENABLED, -gcflags,
module versions) and the directory each binary compiled the package from.
It prints one line per file, OK or REFUSED, and under a refused file each
reason in the words the host would log, with its fix. Nothing is opened.

Check the files where they are deployed: the permission rule depends on
it. The SHA-256 pins (PLUGIN_SHA256) depend on the settings: opa ls checks
them.

Exit status: 0 every file would be accepted, 1 some would be refused,
2 a usage error (a missing file, no --host).`,
	examples: `  opa check --host /usr/local/bin/myhost /data/opa/plugins/hello.so
  opa check --host ./build/host ./build/plugins/*.so`,
	flags: func(fs *flag.FlagSet) func(*cli, []string) int {
		host := fs.String("host", "", "the host `BINARY` that will load the plugins (required)")
		return func(c *cli, files []string) int { return runCheck(c, *host, files) }
	},
}

func runCheck(c *cli, hostFile string, files []string) int {
	host, err := readHost(hostFile)
	if err != nil {
		return c.usageErr("%v", err)
	}
	if len(files) == 0 {
		return c.usageErr("no FILE.so given: name the plugin files to check")
	}
	for _, f := range files {
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			return c.usageErr("%s: no such file", f)
		}
	}
	for _, w := range hostWarnings(host) {
		fmt.Fprintf(c.stdout, "warning: %s\n", w)
	}
	if !checkFiles(c.stdout, &opa.Host{File: hostFile, Build: host}, files) {
		return exitFailed
	}
	return exitOK
}

// checkFiles runs opa.CheckPlugin on the files, in the order given (as a
// host loads them), and prints "FILE: OK", or "FILE: REFUSED" and each
// reason on its own indented line. It reports whether every file passed.
func checkFiles(w io.Writer, host *opa.Host, files []string) bool {
	ok := true
	for i, err := range opa.CheckPlugin(host, files...) {
		f := files[i]
		reasons := checkReasons(f, err)
		if len(reasons) == 0 {
			fmt.Fprintf(w, "%s: OK\n", f)
			continue
		}
		ok = false
		printRefused(w, f+": REFUSED", reasons)
	}
	return ok
}

// printRefused prints a refused file's line and its reasons, indented.
func printRefused(w io.Writer, line string, reasons []string) {
	fmt.Fprintln(w, line)
	for _, r := range reasons {
		fmt.Fprintf(w, "    %s\n", r)
	}
}

// checkReasons returns why the host would refuse file, one reason per
// line: which package differs and whose copy it is, then each difference,
// without the "opa: FILE" that opens CheckPlugin's message.
func checkReasons(file string, err error) []string {
	if err == nil {
		return nil
	}
	if mismatch, ok := errors.AsType[*opa.BuildMismatchError](err); ok {
		if mismatch.Package == "" {
			return mismatch.Differences
		}
		return append([]string{mismatch.Head()}, mismatch.Differences...)
	}
	msg := strings.TrimPrefix(err.Error(), "opa: "+file)
	return []string{strings.TrimLeft(msg, ": ")}
}
