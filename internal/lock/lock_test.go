package lock

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLockRoundTrip: Marshal sorts by name and gives the same bytes for
// the same entries; Parse reads them back and refuses a bad lock, naming
// the entry.
func TestLockRoundTrip(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	f := &File{}
	f.Put(Entry{Name: "zeta", File: "zeta.so", SHA256: sum})
	f.Put(Entry{Name: "alpha", File: "alpha/plugin.so", SHA256: sum, Module: "example.com/alpha", ModuleVersion: "v1.0.0", Go: "go1.26.0"})
	data := f.Marshal()
	assert.Equal(t, `{
  "lock_version": 1,
  "plugins": [
    {
      "name": "alpha",
      "file": "alpha/plugin.so",
      "sha256": "`+sum+`",
      "module": "example.com/alpha",
      "module_version": "v1.0.0",
      "go": "go1.26.0"
    },
    {
      "name": "zeta",
      "file": "zeta.so",
      "sha256": "`+sum+`"
    }
  ]
}
`, string(data))
	back, err := Parse(data)
	require.NoError(t, err)
	assert.Equal(t, data, back.Marshal())
	e, ok := back.Find("zeta")
	assert.True(t, ok)
	assert.Equal(t, "zeta.so", e.File)
	_, ok = (*File)(nil).Find("zeta")
	assert.False(t, ok)

	for _, tc := range []struct{ name, data, want string }{
		{"another version", `{"lock_version": 2, "plugins": []}`, "lock_version is 2, this host reads version 1"},
		{"an unknown field", `{"lock_version": 1, "plugins": [], "extra": 1}`, `unknown field "extra"`},
		{"a bad sum", `{"lock_version": 1, "plugins": [{"name": "a", "file": "a.so", "sha256": "abc"}]}`, `plugin a: sha256 "abc" is not a SHA-256 in hex`},
		{"a file of another name", `{"lock_version": 1, "plugins": [{"name": "a", "file": "b.so", "sha256": "` + sum + `"}]}`, `plugin a: file "b.so", want "a.so" or "a/plugin.so"`},
		{"a name twice", `{"lock_version": 1, "plugins": [{"name": "a", "file": "a.so", "sha256": "` + sum + `"}, {"name": "a", "file": "a.so", "sha256": "` + sum + `"}]}`, "plugin a is listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// A sum written by hand with spaces or in upper case is read as the sum it
// is (ParsePin's rule, which the checks of a pin follow too), so that the
// host's comparison with the file does not see a mismatch.
func TestParseNormalisesTheSum(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	f, err := Parse([]byte(`{"lock_version": 1, "plugins": [{"name": "a", "file": "a.so", "sha256": " ` + strings.ToUpper(sum) + ` "}]}`))
	require.NoError(t, err)
	e, ok := f.Find("a")
	require.True(t, ok)
	assert.Equal(t, sum, e.SHA256)
}
