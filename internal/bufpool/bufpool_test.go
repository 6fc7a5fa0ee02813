package bufpool

import "testing"

// TestGet: a buffer has the length asked for, whether new or kept, and a
// kept one too small for the next request is not given out; a small
// buffer has room for the usual large reads.
func TestGet(t *testing.T) {
	b := Get(10)
	if len(*b) != 10 {
		t.Fatalf("len %d, want 10", len(*b))
	}
	if cap(*b) < minCap {
		t.Fatalf("cap %d, want at least %d", cap(*b), minCap)
	}
	Put(b)
	if c := Get(4); len(*c) != 4 {
		t.Fatalf("len %d, want 4", len(*c))
	} else {
		Put(c)
	}
	if d := Get(1 << 20); len(*d) != 1<<20 {
		t.Fatalf("len %d, want %d", len(*d), 1<<20)
	}
	if e := Get(3 << 20); len(*e) != 3<<20 {
		t.Fatalf("len %d, want %d", len(*e), 3<<20)
	}
}
