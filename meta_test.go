package opa

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
		file := filepath.Join(dir, tc.name+"-meta.json")
		writeFile(t, file, tc.content)
		for _, check := range metaCheckers() {
			t.Run(tc.name+"/"+check.name, func(t *testing.T) {
				m, err := readMeta(file, check.open)
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
}

// metaCheckers are the ways readMeta is called: with no permission rule
// (nil), and with a pass's rule, which opens the file itself where it can
// (trust.Checker.CheckOpen).
func metaCheckers() []struct {
	name string
	open func(string) (*os.File, fs.FileInfo, error)
} {
	_, _, open := Config{}.permissionCheckers()
	return []struct {
		name string
		open func(string) (*os.File, fs.FileInfo, error)
	}{{"unchecked", nil}, {"checked", open}}
}

// TestReadMetaChecked: with the permission rule, readMeta reads what it
// reads without it, also a file larger than the size it was opened with
// and one behind a symlink (which the rule resolves, and readMeta opens).
func TestReadMetaChecked(t *testing.T) {
	dir := t.TempDir()
	big := `{"tags": ["a"], "notes": "` + strings.Repeat("x", 100_000) + `"}`
	writeFile(t, filepath.Join(dir, "big-meta.json"), big)
	writeFile(t, filepath.Join(dir, "real", "meta.json"), `{"tags": ["linked"]}`)
	require.NoError(t, os.Symlink(filepath.Join(dir, "real", "meta.json"), filepath.Join(dir, "link-meta.json")))
	for _, check := range metaCheckers() {
		t.Run(check.name, func(t *testing.T) {
			m, err := readMeta(filepath.Join(dir, "big-meta.json"), check.open)
			require.NoError(t, err)
			assert.Equal(t, []string{"a"}, m.Tags)
			assert.Len(t, m.Extra["notes"], 100_002)
			m, err = readMeta(filepath.Join(dir, "link-meta.json"), check.open)
			require.NoError(t, err)
			assert.Equal(t, []string{"linked"}, m.Tags)
		})
	}
}

func TestReadMetaMissingIsEmpty(t *testing.T) {
	for _, check := range metaCheckers() {
		m, err := readMeta(filepath.Join(t.TempDir(), "nope-meta.json"), check.open)
		require.NoError(t, err, check.name)
		assert.Equal(t, Meta{}, m, check.name)
	}
}

func TestReadMetaUnreadableNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x-meta.json")
	require.NoError(t, os.Mkdir(file, 0o755)) // a directory cannot be read as a file, even by root
	for _, check := range metaCheckers() {
		_, err := readMeta(file, check.open)
		require.Error(t, err, check.name)
		assert.Contains(t, err.Error(), "meta file "+file, check.name)
	}
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
