// Command startbarelinked is cmd/startbare linked with the code of
// opa.Startup, which it never calls: loading plugins costs more in a bigger
// host (plugin.Open de-duplicates every type of the new plugin against the
// types of the host and of the plugins loaded before), so timing it against
// cmd/starthost separates what Startup does at run time from what linking
// it costs.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"plugin"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/bench/internal/memstat"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: startbarelinked DIR")
		os.Exit(2)
	}
	if os.Getenv("STARTBARELINKED_NEVER_SET") == "startup" {
		// Never true: makes the linker keep what Startup needs.
		_ = opa.Startup(chi.NewRouter())
	}
	dir := os.Args[1]
	entries, err := os.ReadDir(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "startbarelinked:", err)
		os.Exit(1)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".so") {
			continue
		}
		p, err := plugin.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "startbarelinked:", err)
			os.Exit(1)
		}
		sym, err := p.Lookup("Plugin")
		if err != nil {
			fmt.Fprintln(os.Stderr, "startbarelinked:", err)
			os.Exit(1)
		}
		if _, ok := sym.(*opa.Plugin); !ok {
			fmt.Fprintf(os.Stderr, "startbarelinked: %s: Plugin is %T\n", e.Name(), sym)
			os.Exit(1)
		}
	}
	if err := memstat.Record(); err != nil {
		fmt.Fprintln(os.Stderr, "startbarelinked:", err)
		os.Exit(1)
	}
}
