package suggest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"plugin_path", "plugin_paths", 1},
		{"fullnme", "fullname", 1},
		{"laod", "load", 1},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // optimal string alignment: no edit after a swap
		{"héllo", "hello", 1},
	}
	for _, tc := range tests {
		t.Run(tc.a+"/"+tc.b, func(t *testing.T) {
			assert.Equal(t, tc.want, Distance(tc.a, tc.b))
			assert.Equal(t, tc.want, Distance(tc.b, tc.a))
		})
	}
}

func TestClosest(t *testing.T) {
	keys := []string{"PLUGIN_PATHS", "PLUGIN_WHITELIST_TAGS", "PLUGIN_BLACKLIST_TAGS", "LOAD", "DRIVER", "OPTS"}
	tests := []struct {
		name, want string
	}{
		{"PLUGIN_PATH", "PLUGIN_PATHS"},
		{"plugin_whitelist_tag", "PLUGIN_WHITELIST_TAGS"},
		{"PLUGIN_BLAKLIST_TAG", "PLUGIN_BLACKLIST_TAGS"},
		{"LAOD", "LOAD"},
		{"driver_", "DRIVER"},
		{"opt", "OPTS"},
		{"PLUGIN_FOO", ""}, // nothing near
		{"x", ""},
		{"LOAD", ""}, // the name itself is no suggestion
		{"load", "LOAD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Closest(tc.name, keys)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.want != "", ok)
		})
	}
	t.Run("ties go to the first", func(t *testing.T) {
		got, _ := Closest("ab", []string{"ax", "xb"})
		assert.Equal(t, "ax", got)
	})
}
