package stage

import (
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
	slices.SortFunc(out, func(a, b span) int { return int(a.off - b.off) })
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
// there and holds no blocks for them. The kernel copies the rest
// (copy_file_range, through each file's offset). It returns the bytes
// copied plus those skipped: size, unless src ended early.
func copyExcept(dst, src *os.File, size int64, skip []span) (int64, error) {
	var n, pos int64
	upTo := func(end int64) error {
		if end <= pos {
			return nil
		}
		if _, err := src.Seek(pos, io.SeekStart); err != nil {
			return err
		}
		if _, err := dst.Seek(pos, io.SeekStart); err != nil {
			return err
		}
		c, err := io.Copy(dst, io.LimitReader(src, end-pos))
		n += c
		if err == nil && c != end-pos {
			err = fmt.Errorf("%w (it ended at byte %d)", ErrChanged, pos+c)
		}
		return err
	}
	for _, sp := range skip {
		if err := upTo(sp.off); err != nil {
			return n, err
		}
		n += sp.end - max(pos, sp.off)
		pos = max(pos, sp.end)
	}
	if err := upTo(size); err != nil {
		return n, err
	}
	return n, dst.Truncate(size)
}

// copyHashing is copyExcept for a copy that is hashed too: every byte of
// src, skipped ones included, goes through h in order, so h sums the whole
// file, while only the bytes outside skip are written to dst. It reads
// through buf.
func copyHashing(dst, src *os.File, size int64, skip []span, h io.Writer, buf []byte) (int64, error) {
	var n, pos int64
	part := func(end int64, write bool) error {
		if end <= pos {
			return nil
		}
		in := io.NewSectionReader(src, pos, end-pos)
		var c int64
		var err error
		if write {
			c, err = io.CopyBuffer(io.NewOffsetWriter(dst, pos), io.TeeReader(in, h), buf)
		} else {
			c, err = io.CopyBuffer(h, in, buf)
		}
		n += c
		if err == nil && c != end-pos {
			err = fmt.Errorf("%w (it ended at byte %d)", ErrChanged, pos+c)
		}
		pos += c
		return err
	}
	for _, sp := range skip {
		if err := part(sp.off, true); err != nil {
			return n, err
		}
		if err := part(sp.end, false); err != nil {
			return n, err
		}
	}
	if err := part(size, true); err != nil {
		return n, err
	}
	return n, dst.Truncate(size)
}
