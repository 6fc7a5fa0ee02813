package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPluginBuiltWithOtherFlagsIsRefused builds plugin hello with the other
// -race setting than the host's, and checks that the host refuses it in
// plain words, before plugin.Open, instead of Go's "plugin was built with a
// different version of package ...".
func TestPluginBuiltWithOtherFlagsIsRefused(t *testing.T) {
	examplesBuilt(t)
	plugins := t.TempDir()
	if err := goBuild(!raceEnabled, filepath.Join(plugins, "hello.so"), "./plugins/hello", "-buildmode=plugin"); err != nil {
		t.Fatal(err)
	}
	want := "built with -race, host built without -race: rebuild the plugin without -race"
	if raceEnabled {
		want = "built without -race, host built with -race: rebuild the plugin with -race"
	}

	// The plugin is refused as it loads, before any component connects.
	h := launch(t, t.TempDir(), hostEnv(t, "OPA_PLUGIN_PATHS="+plugins))
	if err := h.wait(); err == nil {
		t.Fatalf("host started with a plugin built with other flags:\n%s", h.stdout)
	}
	stderr := h.stderr.String()
	if !strings.Contains(stderr, "plugin hello") || !strings.Contains(stderr, want) {
		t.Errorf("the host's error does not say %q about plugin hello:\n%s", want, stderr)
	}
	if strings.Contains(stderr, "different version of package") {
		t.Errorf("Go's own error came through: the plugin was opened:\n%s", stderr)
	}
}
