package settings

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNormalizeValue feeds normalizeValue what a host could put
// into its viper with Set: it must return an error or a value, never hang
// or panic.
func TestNormalizeValue(t *testing.T) {
	type P *P
	var p P
	p = &p
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	list := []any{nil}
	list[0] = list
	n := 5
	for _, tc := range []struct {
		name    string
		in      any
		want    any
		wantErr bool
	}{
		{"pointer cycle", p, nil, true},
		{"map cycle", cyclic, nil, true},
		{"list cycle", list, nil, true},
		{"typed map and slice", map[string][]string{"A": {"x"}}, map[string]any{"a": []any{"x"}}, false},
		{"non-string keys", map[any]any{1: "x", true: 2}, map[string]any{"1": "x", "true": 2}, false},
		{"pointer to int", &n, 5, false},
		{"nil pointer", (*int)(nil), nil, false},
		{"small ints", []any{int8(1), uint16(2), int64(3)}, []any{1, 2, 3}, false},
		{"huge uint", uint64(1 << 63), uint64(1 << 63), false},
		{"bytes", []byte("b"), "b", false},
		{"a func", func() {}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := normalizeValue(tc.in, nil)
			if tc.wantErr {
				var se *Error
				require.ErrorAs(t, err, &se)
				return
			}
			require.NoError(t, err)
			if in := reflect.ValueOf(tc.in); in.Kind() == reflect.Func {
				// Funcs never compare equal: check it is the same func, passed through.
				require.NotNil(t, got, "a func is kept, not dropped")
				g := reflect.ValueOf(got)
				require.Equal(t, reflect.Func, g.Kind(), "got %T", got)
				assert.Equal(t, in.Pointer(), g.Pointer(), "the same func")
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
