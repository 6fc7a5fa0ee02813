// Command startbare is the baseline of the Startup benchmark: loading the
// same plugins with nothing but the plugin package, plugin.Open and
// Lookup("Plugin") for every .so file of the folder given, in name order.
// It imports opa (to check the symbol's type, as any loader must), so it
// links and initialises the same packages as cmd/starthost.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"plugin"
	"strings"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/bench/internal/memstat"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: startbare DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	entries, err := os.ReadDir(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "startbare:", err)
		os.Exit(1)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".so") {
			continue
		}
		p, err := plugin.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "startbare:", err)
			os.Exit(1)
		}
		sym, err := p.Lookup("Plugin")
		if err != nil {
			fmt.Fprintln(os.Stderr, "startbare:", err)
			os.Exit(1)
		}
		if _, ok := sym.(*opa.Plugin); !ok {
			fmt.Fprintf(os.Stderr, "startbare: %s: Plugin is %T\n", e.Name(), sym)
			os.Exit(1)
		}
	}
	if err := memstat.Record(); err != nil {
		fmt.Fprintln(os.Stderr, "startbare:", err)
		os.Exit(1)
	}
}
