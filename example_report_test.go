package opa_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opa-stack/opa-go"
)

// The report says of every plugin found whether it loaded and, if not,
// why. LIST and RE filters match the match string (the search path, a
// slash, the name; a compiled-in plugin is in the default path): a
// blacklist that names a plugin by its bare name does not apply, and the
// report says so (a whitelist that does drops the plugin, and its reason
// says why). ReportHandler serves the same report.
func ExampleManager_Report() {
	cfg := exampleConfig
	cfg.BlacklistList = []string{cfg.DefaultPluginPath + "/loud", "extra"}
	m, err := opa.New(opa.WithConfig(cfg), exampleQuiet,
		opa.WithPlugin("greeter", exampleGreeter()),
		opa.WithPlugin("loud", exampleLoud()),
		opa.WithPlugin("extra", opa.Plugin{}))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := m.StartupSimple(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = m.Shutdown(context.Background()) }()

	rep := m.Report()
	fmt.Println("state:", rep.State)
	for _, p := range rep.Plugins {
		fmt.Println(p.Name, "loaded:", p.Loaded)
		for _, why := range []string{p.Reason, p.Note} {
			if why != "" {
				fmt.Println("  " + why)
			}
		}
	}
	for _, h := range rep.Hooks {
		fmt.Printf("hook %s defined by %s, served by %s\n", h.Name, h.DefinedBy, h.Plugin)
	}
	// Output:
	// state: started
	// extra loaded: true
	//   PLUGIN_BLACKLIST_LIST lists the plugin's name "extra", not its match string "/nonexistent/opa-example-plugins/extra", so it did not apply
	// greeter loaded: true
	// loud loaded: false
	//   in PLUGIN_BLACKLIST_LIST
	// hook greet defined by greeter, served by greeter
}

// CheckPlugin gives, without opening anything, the verdict Startup would:
// one error per file, nil for a file that would load. Here two files that
// are no plugins; a real plugin built against other copies of the host's
// packages is refused as plugin.Open would refuse it, with a
// *opa.BuildMismatchError that names the package and why (see the README's
// "Plugins in their own module"). The files are in the temporary
// directory, which must pass the permission rule, as /tmp does.
func ExampleCheckPlugin() {
	dir, err := os.MkdirTemp("", "opa-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	empty := filepath.Join(dir, "empty.so")
	text := filepath.Join(dir, "text.so")
	_ = os.WriteFile(empty, nil, 0o644)
	_ = os.WriteFile(text, []byte("not a plugin\n"), 0o644)

	for _, err := range opa.CheckPlugin(nil, empty, text) {
		fmt.Println(strings.ReplaceAll(fmt.Sprint(err), dir, "DIR"))
	}
	// Output:
	// opa: DIR/empty.so is empty (0 bytes): rebuild it or copy it again
	// opa: DIR/text.so is not an ELF shared object (starts with "not a pl"): a plugin must be a .so file built with go build -buildmode=plugin
}
