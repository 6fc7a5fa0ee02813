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
// computed from the same bytes that are copied. The copy leaves out the
// file's DWARF sections, which nothing loads or checks (see debugSpans),
// as holes.
package stage

import (
	"errors"
	"io/fs"
	"os"

	"github.com/opa-stack/opa-go/internal/preflight"
)

// ErrChanged is wrapped by the error of a copy whose source changed while
// it was read (a deploy that writes into the file).
var ErrChanged = errors.New("the file changed while it was copied")

// Open opens a plugin file for reading without blocking (see
// preflight.OpenFile): a FIFO, socket, device or directory is refused with
// a *preflight.NotRegularError that names its type. The FileInfo is the
// open descriptor's.
func Open(path string) (*os.File, fs.FileInfo, error) {
	return preflight.OpenFile(path)
}
