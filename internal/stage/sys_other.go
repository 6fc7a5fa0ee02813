//go:build !linux

package stage

import (
	"os"
	"path/filepath"
)

// readOnly is not known on this system: every file is copied.
func readOnly(*os.File) (bool, error) { return false, nil }

// noExec is not known on this system.
func noExec(string) (bool, error) { return false, nil }

// realPath resolves the symlinks of the path f was opened by.
func realPath(f *os.File) (string, error) { return filepath.EvalSymlinks(f.Name()) }
