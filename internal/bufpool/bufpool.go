// Package bufpool keeps byte buffers between the reads of large files that
// a load pass makes (a plugin's string table, a copy's hash). Go plugins
// make a heap small and its garbage collections costly: each scans every
// plugin loaded so far, and a buffer allocated a file starts one every
// few files.
package bufpool

import "sync"

var pool sync.Pool // *[]byte

// minCap is the least capacity of a buffer: the size of a copy's buffer,
// and about that of a plugin's string table. Buffers of the smaller reads
// get it too, so that any buffer kept serves any of the usual reads; a
// kept buffer too small for a read would be dropped and a new one made.
const minCap = 1 << 20

// Get returns a buffer of n bytes, reused when one big enough is kept. Give
// it back with Put once nothing refers to its bytes.
func Get(n int) *[]byte {
	if b, ok := pool.Get().(*[]byte); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, max(n, minCap))
	return &b
}

// Put keeps b for a later Get.
func Put(b *[]byte) { pool.Put(b) }
