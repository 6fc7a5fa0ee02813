//go:build !unix

package trust

import (
	"io/fs"
	"os"
)

// Check has no owner or mode bits to check on this OS.
func Check(string) error { return nil }

// Checker has no owner or mode bits to check on this OS.
type Checker struct{}

// Check has no owner or mode bits to check on this OS.
func (*Checker) Check(string) error { return nil }

// CheckOpen has no owner or mode bits to check on this OS: it opens
// nothing, and the caller opens the path itself.
func (*Checker) CheckOpen(string) (*os.File, fs.FileInfo, error) { return nil, nil, nil }

// CheckOpened has no owner or mode bits to check on this OS.
func (*Checker) CheckOpened(string, fs.FileInfo) error { return nil }
