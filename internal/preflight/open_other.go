//go:build !unix

package preflight

// openNonblock is 0 where open cannot block on a file's type.
const openNonblock = 0
