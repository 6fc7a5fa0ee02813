package preflight

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// NotRegularError means a path named as a plugin or a host is not a regular
// file: a directory, a named pipe, a socket or a device. Such a file is never
// read: opening a FIFO would block until a writer comes.
type NotRegularError struct {
	File string
	Mode fs.FileMode
	// What names what the file was to be, for the reason ("a meta.json");
	// empty for a plugin or a host binary.
	What string
}

// Error names the file and its type.
func (e *NotRegularError) Error() string {
	return e.File + " " + e.Reason()
}

// Reason is Error without the file name, for messages that name it first.
func (e *NotRegularError) Reason() string {
	if e.What != "" {
		return fmt.Sprintf("is %s, not a regular file: %s must be a regular file", e.Type(), e.What)
	}
	if e.Mode.IsDir() {
		return "is a directory, not a plugin file: remove it or rename it so its name does not end in .so"
	}
	return fmt.Sprintf("is %s, not a regular file: a plugin must be a .so file built with go build -buildmode=plugin", e.Type())
}

// Type names the file's type, with an article: "a named pipe (FIFO)".
func (e *NotRegularError) Type() string {
	return fileType(e.Mode)
}

// fileType names the type of a file that is not regular, with an article.
func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return fmt.Sprintf("not a regular file (mode %s)", m)
}

// OpenFile opens a plugin or host binary for reading without ever blocking:
// it refuses a path that is not a regular file before opening it, opens
// with O_NONBLOCK (a FIFO swapped in meanwhile cannot hold the open), and
// checks the type again on the open descriptor. It returns the file's
// information from that descriptor. A refused file gives a
// *NotRegularError; an error of open or stat names the file.
func OpenFile(file string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, &NotRegularError{File: file, Mode: st.Mode()}
	}
	f, err := os.OpenFile(file, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{File: file, Mode: st.Mode()}
	}
	return f, st, nil
}

// ReadFile reads a file that opa reads whole (a meta.json, an opa.lock, a
// settings file) as os.ReadFile does, but opened as OpenFile opens a
// plugin, so that a named pipe in its place cannot block the caller, and
// read only up to limit bytes (see ReadOpen). what names the file in a
// refusal: "a meta.json".
func ReadFile(file, what string, limit int64) ([]byte, error) {
	f, fi, err := OpenFile(file)
	if nr, ok := errNotRegular(err); ok {
		nr.What = what
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadOpen(f, fi, what, limit)
}

// ReadNamed is ReadFile for a caller that does not name the file itself:
// each of its errors names it (those of open and stat, and a refused
// non-regular file, do already).
func ReadNamed(file, what string, limit int64) ([]byte, error) {
	b, err := ReadFile(file, what, limit)
	if err == nil {
		return b, nil
	}
	if _, ok := errNotRegular(err); ok {
		return nil, err
	}
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		return nil, err
	}
	return nil, fmt.Errorf("%s: %w", file, err)
}

// ReadOpen reads f, open with FileInfo fi, to its end, as os.ReadFile
// does. A file of more than limit bytes is refused with its size, unread,
// and one that grows past limit while it is read is refused too: a wrong
// or growing file is never read into memory whole.
func ReadOpen(f *os.File, fi fs.FileInfo, what string, limit int64) ([]byte, error) {
	if fi.Size() > limit {
		return nil, fmt.Errorf("it is %d bytes, more than the %d %s may have: is it the right file?", fi.Size(), limit, what)
	}
	var b bytes.Buffer
	b.Grow(int(fi.Size()) + bytes.MinRead) // room for the read that finds the end
	if _, err := b.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, err
	}
	if int64(b.Len()) > limit {
		return nil, fmt.Errorf("it grew past %d bytes while it was read", limit)
	}
	return b.Bytes(), nil
}

// errNotRegular reports whether err is a *NotRegularError, and returns it.
func errNotRegular(err error) (*NotRegularError, bool) {
	return errors.AsType[*NotRegularError](err)
}
