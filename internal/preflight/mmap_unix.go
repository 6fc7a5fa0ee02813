//go:build unix

package preflight

import (
	"os"
	"syscall"
)

// mapFile maps f, of size bytes, read-only into memory: reading a plugin's
// symbol tables through the page cache costs no copy and no new heap.
// unmap releases it.
func mapFile(f *os.File, size int64) (data []byte, unmap func(), err error) {
	if size <= 0 || int64(int(size)) != size {
		return readFile(f, size)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return readFile(f, size)
	}
	return b, func() { _ = syscall.Munmap(b) }, nil
}
