package opa

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestReadMeta(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          Meta
		err           string
	}{
		{name: "tags", content: `{"tags": ["a", "b"]}`, want: Meta{Tags: []string{"a", "b"}}},
		{name: "empty object", content: `{}`, want: Meta{}},
		{name: "null tags", content: `{"tags": null}`, want: Meta{}},
		{name: "unknown fields are kept", content: `{"tags": ["a"], "version": "2", "owner": {"team": "x"}}`,
			want: Meta{Tags: []string{"a"}, Extra: map[string]json.RawMessage{"version": json.RawMessage(`"2"`), "owner": json.RawMessage(`{"team": "x"}`)}}},
		{name: "invalid JSON", content: `{"tags": [`, err: "invalid JSON"},
		{name: "not an object", content: `["a"]`, err: "invalid JSON"},
		{name: "null", content: `null`, err: "got null"},
		{name: "two values", content: `{} {}`, err: "more than one value"},
		{name: "tags a string", content: `{"tags": "a"}`, err: `"tags" must be a list of strings, got a string`},
		{name: "tags of numbers", content: `{"tags": [1]}`, err: `"tags" must be a list of strings, got a list holding something other than strings`},
		{name: "tags an object", content: `{"tags": {}}`, err: `"tags" must be a list of strings, got an object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.name+"-meta.json")
			writeFile(t, file, tc.content)
			m, err := readMeta(file, nil)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "meta file "+file+": ")
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, m)
		})
	}
}

func TestReadMetaMissingIsEmpty(t *testing.T) {
	m, err := readMeta(filepath.Join(t.TempDir(), "nope-meta.json"), nil)
	require.NoError(t, err)
	assert.Equal(t, Meta{}, m)
}

func TestReadMetaUnreadableNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x-meta.json")
	require.NoError(t, os.Mkdir(file, 0o755)) // a directory cannot be read as a file, even by root
	_, err := readMeta(file, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "meta file "+file)
}

func FuzzParseMeta(f *testing.F) {
	for _, s := range []string{`{"tags": ["a"]}`, `{}`, `null`, `[1]`, `{"tags": "x", "y": 1}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseMeta(data)
		if err == nil && m.Extra != nil {
			_, hasTags := m.Extra["tags"]
			assert.False(t, hasTags, "tags never land in Extra")
		}
	})
}
