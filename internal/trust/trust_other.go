//go:build !unix

package trust

import "io/fs"

// Check has no owner or mode bits to check on this OS.
func Check(string) error { return nil }

// Checker has no owner or mode bits to check on this OS.
type Checker struct{}

// Check has no owner or mode bits to check on this OS.
func (*Checker) Check(string) error { return nil }

// CheckOpened has no owner or mode bits to check on this OS.
func (*Checker) CheckOpened(string, fs.FileInfo) error { return nil }
