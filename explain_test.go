package opa

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExplainOpensNothing(t *testing.T) {
	root := t.TempDir()
	layout(t, root, "p/empty.so", "p/skipped.so")
	m, err := New(
		WithConfig(Config{PluginPaths: []string{root + "/p"}, DefaultPluginPath: root + "/d", BlacklistList: []string{root + "/p/skipped"}}),
		WithPlugin("inside", Plugin{}),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	require.NoError(t, err)

	rep, err := m.Explain(nil)
	require.Error(t, err, "an empty .so would fail Startup")
	assert.Contains(t, err.Error(), "opa: plugin empty ("+root+"/p/empty): preflight: "+root+"/p/empty.so is empty (0 bytes)")
	assert.Equal(t, err.Error(), rep.Error)
	require.Len(t, rep.Plugins, 3)
	assert.False(t, rep.Plugins[0].Loaded)
	assert.Contains(t, rep.Plugins[0].Reason, "is empty (0 bytes)")
	assert.Equal(t, "in PLUGIN_BLACKLIST_LIST", rep.Plugins[1].Reason)
	assert.True(t, rep.Plugins[2].Loaded, "a compiled-in plugin would load")

	// Explain changed nothing: the manager can still start (and fail the same way).
	assert.ErrorContains(t, m.StartupSimple(t.Context()), "is empty (0 bytes)")
}

func TestCheckPluginNamesTheFile(t *testing.T) {
	root := t.TempDir()
	layout(t, root, "x.so")
	errs := CheckPlugin(nil, root+"/x.so")
	require.Len(t, errs, 1)
	err := errs[0]
	require.Error(t, err)
	assert.Equal(t, "opa: "+root+"/x.so is empty (0 bytes): rebuild it or copy it again", err.Error())
}

func TestWithPluginNamesAreChecked(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithPlugin("a.b", Plugin{})}, `opa: WithPlugin("a.b"): a plugin name holds no dot or slash`},
		{[]Option{WithPlugin("", Plugin{})}, `opa: WithPlugin(""): empty name`},
		{[]Option{WithPlugin("x", Plugin{}), WithPlugin("x", Plugin{})}, `opa: WithPlugin("x"): given twice`},
	} {
		_, err := New(append(tc.opts, WithConfig(Config{}))...)
		assert.EqualError(t, err, tc.want)
	}
}
