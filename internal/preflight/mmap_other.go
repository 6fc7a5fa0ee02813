//go:build !unix

package preflight

import "os"

// mapFile reads f, of size bytes, into memory where mmap is not at hand.
func mapFile(f *os.File, size int64) (data []byte, unmap func(), err error) {
	return readFile(f, size)
}
