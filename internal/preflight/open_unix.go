//go:build unix

package preflight

import "syscall"

// openNonblock keeps open(2) from waiting for a FIFO's writer.
const openNonblock = syscall.O_NONBLOCK
