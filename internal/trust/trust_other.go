//go:build !unix

package trust

// Check has no owner or mode bits to check on this OS.
func Check(string) error { return nil }

// Checker has no owner or mode bits to check on this OS.
type Checker struct{}

// Check has no owner or mode bits to check on this OS.
func (*Checker) Check(string) error { return nil }
