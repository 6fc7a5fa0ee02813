//go:build !unix

package trust

// Check has no owner or mode bits to check on this OS.
func Check(string) error { return nil }
