package register_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
	_ "github.com/opa-stack/opa-go/river/register"
	"github.com/stretchr/testify/require"
)

// The blank import registers the "river" plugin: a Manager given no plugin
// finds the driver.
func TestBlankImportRegistersDriver(t *testing.T) {
	m, err := opa.New(opa.WithConfig(opa.Config{
		DefaultPluginPath: "/nonexistent/opa-river-test",
		OptionalComponents: map[string]opa.ComponentConfig{"jobs": {Load: "yes", Driver: "river",
			Opts: opa.Options{"url": filepath.Join(t.TempDir(), "jobs.db")}}},
	}))
	require.NoError(t, err)
	require.NoError(t, m.StartupSimple(context.Background()))
	defer m.Shutdown(context.Background())
	jobs, err := opa.InstanceOf[*river.Jobs](m, "jobs")
	require.NoError(t, err)
	_, err = jobs.Enqueue(context.Background(), "x", nil, nil)
	require.NoError(t, err)
}
