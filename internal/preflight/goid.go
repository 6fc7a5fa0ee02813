package preflight

import (
	"bytes"
	"debug/elf"
	"io"
)

// GoBuildID returns the Go build ID of an ELF binary (what go tool buildid
// prints), read from its .note.go.buildid section, or "" when it has none
// or cannot be read. It reads a few hundred bytes, not the file. A path
// that is not a regular file (a named pipe) gives "" without blocking, and
// a damaged file "" without a panic.
func GoBuildID(file string) (id string) {
	r, _, err := OpenFile(file)
	if err != nil {
		return ""
	}
	defer r.Close()
	defer func() {
		if recover() != nil { // debug/elf on a damaged file
			id = ""
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		return ""
	}
	s := f.Section(".note.go.buildid")
	if s == nil || s.Size > 4096 {
		return ""
	}
	data, err := io.ReadAll(s.Open())
	if err != nil || len(data) < 16 {
		return ""
	}
	order := f.ByteOrder
	namesz, descsz, typ := order.Uint32(data), order.Uint32(data[4:]), order.Uint32(data[8:])
	if namesz != 4 || typ != 4 || !bytes.Equal(data[12:16], []byte("Go\x00\x00")) || uint64(descsz) > uint64(len(data)-16) {
		return ""
	}
	return string(data[16 : 16+descsz])
}
