// Package stage gives a host the bytes of a .so file in a form that cannot
// change between the checks made on it and plugin.Open, nor after: a
// private copy in a directory that only this process can write, or, where
// the file itself cannot change (a read-only filesystem), the file.
//
// Opening a plugin file by its path after checking it leaves two gaps.
// Anyone who can rename entries in its directory can swap another file in
// between the check and the open. And `cp new.so plugin.so` writes into the
// file that a running host has mapped, so the host faults on its next call
// into the plugin. A copy closes both: the checks read the copy, the
// runtime maps the copy, and nothing else can write to it.
//
// Each file is opened once, without blocking (a FIFO in a plugin folder
// cannot hang the host), and refused unless it is a regular file. Its
// owner and mode are those of the open descriptor, so a file swapped in
// after the path was checked is seen for what it is. Its SHA-256 is
// computed from the same bytes that are copied.
package stage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by the error of Open for a path that is not a
// regular file: a FIFO, a socket, a device or a directory.
var ErrNotRegular = errors.New("not a regular file")

// ErrChanged is wrapped by the error of a copy whose source changed while
// it was read (a deploy that writes into the file).
var ErrChanged = errors.New("the file changed while it was copied")

// Open opens a plugin file for reading without blocking: O_NONBLOCK makes
// the open of a FIFO return at once, and anything but a regular file is
// refused with an error that names its type and wraps ErrNotRegular. The
// FileInfo is the open descriptor's.
func Open(path string) (*os.File, fs.FileInfo, error) {
	// Look before opening: opening a device can have effects of its own.
	if fi, err := os.Stat(path); err != nil {
		return nil, nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, nil, notRegular(path, fi.Mode())
	}
	f, err := openNonblock(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() { // replaced between the look and the open
		f.Close()
		return nil, nil, notRegular(path, fi.Mode())
	}
	return f, fi, nil
}

// notRegular words the refusal of a file of the wrong type.
func notRegular(path string, mode fs.FileMode) error {
	return fmt.Errorf("%s is %s, not a plugin file (%w): remove it, or rename it so its name does not end in .so", path, TypeName(mode), ErrNotRegular)
}

// TypeName is the kind of file a mode says, with its article: "a FIFO",
// "a directory".
func TypeName(mode fs.FileMode) string {
	switch t := mode.Type(); {
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a block device"
	case t&fs.ModeSymlink != 0:
		return "a symlink"
	case t == 0:
		return "a regular file"
	}
	return "not a regular file (mode " + mode.String() + ")"
}
