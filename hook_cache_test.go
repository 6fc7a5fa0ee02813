package opa

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHookCacheReusedBuffer calls find with names whose bytes are a buffer
// that is then overwritten (a name made with unsafe.String), as a caller
// reusing a buffer does: every call must find the hook the name spells now,
// not the one the cache saw at the same address.
func TestHookCacheReusedBuffer(t *testing.T) {
	tbl := &hookTable{defs: map[string]*hookDef{}, winners: map[string]*hookEntry{}}
	names := []string{"hello", "world", "hellp", "xello"} // one length, so one address and length fit all
	for _, n := range names {
		tbl.winners[n] = newHookEntry(n, "p-"+n, 0, reflect.ValueOf(func() string { return n }))
	}
	buf := make([]byte, 5)
	name := unsafe.String(&buf[0], len(buf))
	for round := range 3 {
		for _, want := range names {
			copy(buf, want)
			e := tbl.find(name)
			require.NotNil(t, e, "round %d: %q not found", round, want)
			assert.Equal(t, want, e.name, "round %d: the cache answered for another name at the same address", round)
		}
	}
	copy(buf, "nope!")
	assert.Nil(t, tbl.find(name), "a name with no hook finds none")
	// The slots keep their own copies, not the caller's bytes.
	for i := range tbl.cache {
		if s := tbl.cache[i].Load(); s != nil {
			assert.NotEqual(t, unsafe.StringData(s.name), &buf[0])
		}
	}
}
