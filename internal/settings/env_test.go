package settings

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseEnvValue(t *testing.T) {
	tests := []struct {
		raw   string
		want  any
		merge bool
	}{
		{"/plugins", "/plugins", false},
		{"", "", false},
		{`["/a","/b"]`, []any{"/a", "/b"}, false},
		{` [1, 2.5, true, null] `, []any{1, 2.5, true, nil}, false},
		{`{"Redis": {"LOAD": "no", "PORT": 6379}}`, map[string]any{"redis": map[string]any{"load": "no", "port": 6379}}, false},
		{"true", true, false},
		{"FALSE", false, false},
		{"True", true, false},
		{"42", 42, false},
		{"-7", -7, false},
		{"+7", 7, false},
		{"0", 0, false},
		{"007", "007", false},
		{"1.5", "1.5", false},
		{"99999999999999999999", "99999999999999999999", false},
		{"1_000", "1_000", false},
		{"--1", "--1", false},
		{"@str true", "true", false},
		{"@str [not json]", "[not json]", false},
		{"@str", "", false},
		{"@str  two spaces", " two spaces", false},
		{"@int 5", 5, false},
		{"@float 2.5", 2.5, false},
		{"@bool yes", true, false},
		{"@bool nope", false, false},
		{`@json {"a": 1}`, map[string]any{"a": 1}, false},
		{"@none", nil, false},
		{"@unknown x", "@unknown x", false},
		{"@merge /p", []any{"/p"}, true},
		{"@merge a,b", []any{"a", "b"}, true},
		{"@merge  a , b ,, ", []any{"a", "b"}, true},
		{"@merge 5", []any{5}, true},
		{"@merge", []any{}, true},
		{`@merge ["x", "y"]`, []any{"x", "y"}, true},
		{`@merge {"load": "no"}`, map[string]any{"load": "no"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			got, merge, err := parseEnvValue(tc.raw, []string{"k"})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.merge, merge)
		})
	}
	for _, raw := range []string{"[", `{"a": }`, "[1] x", "@merge [", "@json", "@int x", "@float x", `{"A": 1, "a": 2}`} {
		t.Run("error "+raw, func(t *testing.T) {
			_, _, err := parseEnvValue(raw, []string{"plugin_paths"})
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Contains(t, err.Error(), "PLUGIN_PATHS")
		})
	}
}

func TestSettingsDir(t *testing.T) {
	assert.Equal(t, DefaultDir, Dir(Environ(nil)))
	assert.Equal(t, DefaultDir, Dir(Environ([]string{"OPA_SETTINGS_DIR="})))
	assert.Equal(t, "/x", Dir(Environ([]string{"OPA_SETTINGS_DIR=/x"})))
}
