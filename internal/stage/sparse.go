package stage

import (
	"cmp"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// span is a byte range of a file: [off, end).
type span struct{ off, end int64 }

// debugSpans returns the byte ranges of r's DWARF sections (.debug_* and
// .zdebug_*, compressed or not), sorted and merged: sections that no
// PT_LOAD segment maps, so that neither the dynamic loader nor the Go
// runtime reads them, and that none of the checks reads. A private copy
// leaves them as holes: about a sixth of a plugin's bytes that are never
// read. A file debug/elf cannot read, or whose DWARF overlaps a loaded
// segment, has none.
func debugSpans(r io.ReaderAt, size int64) (out []span) {
	defer func() {
		if recover() != nil { // debug/elf on a damaged file: copy it whole
			out = nil
		}
	}()
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil
	}
	var loaded []span
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			loaded = append(loaded, span{int64(p.Off), int64(p.Off + p.Filesz)})
		}
	}
	for _, s := range ef.Sections {
		if s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_ALLOC != 0 || s.FileSize == 0 ||
			!strings.HasPrefix(s.Name, ".debug_") && !strings.HasPrefix(s.Name, ".zdebug_") {
			continue
		}
		sp := span{int64(s.Offset), int64(s.Offset + s.FileSize)}
		if sp.off < 0 || sp.end > size || sp.end < sp.off {
			return nil
		}
		for _, l := range loaded {
			if sp.off < l.end && l.off < sp.end {
				return nil
			}
		}
		out = append(out, sp)
	}
	slices.SortFunc(out, func(a, b span) int { return cmp.Compare(a.off, b.off) })
	merged := out[:0]
	for _, sp := range out {
		if n := len(merged); n > 0 && sp.off <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, sp.end)
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// copyExcept copies the size bytes of src into dst, except the ranges of
// skip (sorted, disjoint), which it leaves as holes: dst reads as zeros
// there and holds no blocks for them. With h nil the kernel copies the
// rest (copy_file_range, through each file's offset) and the holes are
// not read. Otherwise every byte of src, skipped ones included, goes
// through h in order, read through buf, so that h sums the whole file. It
// returns how far it got: size, unless src ended early (ErrChanged).
func copyExcept(dst, src *os.File, size int64, skip []span, h io.Writer, buf []byte) (int64, error) {
	var pos int64
	// to moves pos to end, writing the bytes on the way to dst if write.
	to := func(end int64, write bool) error {
		if end <= pos {
			return nil
		}
		c, err := copyPart(dst, src, pos, end-pos, write, h, buf)
		pos += c
		if err == nil && pos != end {
			err = fmt.Errorf("%w (it ended at byte %d)", ErrChanged, pos)
		}
		return err
	}
	for _, sp := range skip {
		if err := to(sp.off, true); err != nil {
			return pos, err
		}
		if err := to(sp.end, false); err != nil {
			return pos, err
		}
	}
	if err := to(size, true); err != nil {
		return pos, err
	}
	return pos, dst.Truncate(size)
}

// copyPart is copyExcept's work on the n bytes at off: copied from src to
// dst at the same offset if write, and read into h when h is not nil.
func copyPart(dst, src *os.File, off, n int64, write bool, h io.Writer, buf []byte) (int64, error) {
	in := io.NewSectionReader(src, off, n)
	switch {
	case h != nil && write:
		return io.CopyBuffer(io.NewOffsetWriter(dst, off), io.TeeReader(in, h), buf)
	case h != nil:
		return io.CopyBuffer(h, in, buf)
	case !write:
		return n, nil // a hole, not read
	}
	// The kernel's copy: io.Copy uses copy_file_range from *os.File (or a
	// LimitedReader of one) to *os.File, at each file's own offset.
	if _, err := src.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	if _, err := dst.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.Copy(dst, io.LimitReader(src, n))
}
