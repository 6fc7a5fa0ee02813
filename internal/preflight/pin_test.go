package preflight

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
	require.NoError(t, os.WriteFile(file, []byte(content), 0o644))
}

func TestPins(t *testing.T) {
	file := "/p/x.so"
	sum := sha256.Sum256([]byte("plugin bytes"))
	good := hex.EncodeToString(sum[:])
	bad := hex.EncodeToString(make([]byte, 32))
	for _, tc := range []struct {
		name    string
		pins    map[string]string
		require bool
		want    string
	}{
		{"no pin", nil, false, ""},
		{"matching pin", map[string]string{"x": good}, false, ""},
		{"matching pin, upper-case hex and spaces", map[string]string{"x": " " + strings.ToUpper(good) + "\n"}, false, ""},
		{"pin of another plugin", map[string]string{"y": bad}, false, ""},
		{"wrong pin", map[string]string{"x": bad}, false, "SHA-256 mismatch: the file is " + good + ", PLUGIN_SHA256.x pins " + bad},
		{"malformed pin", map[string]string{"x": "abc"}, false, `PLUGIN_SHA256.x: "abc" is not a SHA-256 in hex`},
		{"required and missing", nil, true, "no SHA-256 pin, and PLUGIN_REQUIRE_SHA256 is set: add PLUGIN_SHA256.x"},
		{"required and present", map[string]string{"x": good}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPin("x", file, tc.pins, tc.require, sum[:])
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("pinned, no sum computed", func(t *testing.T) {
		err := CheckPin("x", file, map[string]string{"x": good}, false, nil)
		assert.ErrorContains(t, err, "PLUGIN_SHA256.x: the file's SHA-256 was not computed")
	})
}
