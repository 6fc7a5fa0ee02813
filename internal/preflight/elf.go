package preflight

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
)

// elfTarget is what an ELF file built for one GOARCH says in its header.
type elfTarget struct {
	goarch  string
	class   elf.Class
	data    elf.Data
	machine elf.Machine
}

// elfTargets lists the GOARCH values Go builds ELF files for.
var elfTargets = []elfTarget{
	{"amd64", elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64},
	{"arm64", elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64},
	{"386", elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386},
	{"arm", elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM},
	{"riscv64", elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_RISCV},
	{"ppc64le", elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_PPC64},
	{"ppc64", elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_PPC64},
	{"s390x", elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_S390},
	{"loong64", elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_LOONGARCH},
	{"mips64le", elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_MIPS},
	{"mips64", elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_MIPS},
	{"mipsle", elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_MIPS},
	{"mips", elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_MIPS},
}

// elfFixCopy ends every message about a damaged file.
const elfFixCopy = "rebuild it or copy it again"

// CheckELF checks, before plugin.Open, that file is a complete ELF shared
// object for this machine: a regular, non-empty file (opened without
// blocking, see OpenFile) whose headers parse,
// built for runtime.GOARCH, of type ET_DYN, with every loadable segment,
// header table and section inside the file, and a readable dynamic section.
// dlopen of a truncated file can kill the whole process with SIGBUS, which
// no recover catches; this turns that into an error. The message is
// lower-case, names neither the plugin nor the file (the caller wraps it)
// and says how to fix it. On darwin (Mach-O) only the generic checks run.
func CheckELF(file string) (err error) {
	f, st, err := OpenFile(file)
	if nr, ok := errNotRegular(err); ok {
		return errors.New(nr.Reason())
	}
	if err != nil {
		return fmt.Errorf("cannot be read (%w): check that it exists and is readable", err)
	}
	defer f.Close()
	if st.Size() == 0 {
		return errors.New("is empty (0 bytes): " + elfFixCopy)
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return nil // Mach-O: dlopen there fails cleanly; nothing more to check here
	}
	defer func() { // debug/elf is fuzzed, but a damaged file must never crash the host
		if v := recover(); v != nil {
			err = fmt.Errorf("is a damaged ELF file (%v): %s", v, elfFixCopy)
		}
	}()
	return checkELFFile(f, uint64(st.Size()))
}

// checkELFFile does CheckELF's work on an open file of the given size.
func checkELFFile(r io.ReaderAt, size uint64) error {
	var ident [elf.EI_NIDENT]byte
	n, _ := r.ReadAt(ident[:], 0)
	if n < 4 || !bytes.Equal(ident[:4], []byte(elf.ELFMAG)) {
		if n < 4 && bytes.HasPrefix([]byte(elf.ELFMAG), ident[:n]) {
			return elfTruncated(size, "headers", 64)
		}
		start := ident[:min(n, 8)]
		return fmt.Errorf("is not an ELF shared object (starts with %q): a plugin must be a .so file built with go build -buildmode=plugin", start)
	}
	if n < elf.EI_NIDENT {
		return elfTruncated(size, "headers", 64)
	}
	class, data := elf.Class(ident[elf.EI_CLASS]), elf.Data(ident[elf.EI_DATA])
	var bo binary.ByteOrder
	switch data {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return elfDamaged(fmt.Sprintf("unknown byte order %d", data))
	}
	var h elf.Header64 // a Header32 is widened into it
	switch class {
	case elf.ELFCLASS64:
		if size < 64 {
			return elfTruncated(size, "headers", 64)
		}
		if err := binary.Read(io.NewSectionReader(r, 0, 64), bo, &h); err != nil {
			return elfDamaged(err.Error())
		}
	case elf.ELFCLASS32:
		if size < 52 {
			return elfTruncated(size, "headers", 52)
		}
		var h32 elf.Header32
		if err := binary.Read(io.NewSectionReader(r, 0, 52), bo, &h32); err != nil {
			return elfDamaged(err.Error())
		}
		h = elf.Header64{Type: h32.Type, Machine: h32.Machine, Phoff: uint64(h32.Phoff), Shoff: uint64(h32.Shoff),
			Phentsize: h32.Phentsize, Phnum: h32.Phnum, Shentsize: h32.Shentsize, Shnum: h32.Shnum}
	default:
		return elfDamaged(fmt.Sprintf("unknown ELF class %d", class))
	}
	if err := checkELFTarget(class, data, elf.Machine(h.Machine)); err != nil {
		return err
	}
	if t := elf.Type(h.Type); t != elf.ET_DYN {
		return fmt.Errorf("is an ELF file of type %s, not a shared object (ET_DYN): build it with go build -buildmode=plugin", t)
	}
	return checkELFLayout(r, size, class, bo, &h)
}

// checkELFTarget compares an ELF file's class, byte order and machine with
// this host's GOARCH.
func checkELFTarget(class elf.Class, data elf.Data, m elf.Machine) error {
	var want, got *elfTarget
	for i, t := range elfTargets {
		if t.goarch == runtime.GOARCH {
			want = &elfTargets[i]
		}
		if t.class == class && t.data == data && t.machine == m {
			got = &elfTargets[i]
		}
	}
	switch {
	case want == nil: // a GOARCH this table does not know: trust dlopen
		return nil
	case got == want:
		return nil
	case got != nil:
		return fmt.Errorf("was built for GOARCH=%s (%s); this host is %s: rebuild it with GOARCH=%s", got.goarch, m, runtime.GOARCH, runtime.GOARCH)
	}
	return fmt.Errorf("was built for another machine (%s, %s, %s); this host is %s (%s, %s, %s): rebuild it with GOARCH=%s",
		m, class, data, runtime.GOARCH, want.machine, want.class, want.data, runtime.GOARCH)
}

// checkELFLayout checks that the program headers, every PT_LOAD segment,
// the section headers and every section lie inside the file, and that the
// dynamic section can be read.
func checkELFLayout(r io.ReaderAt, size uint64, class elf.Class, bo binary.ByteOrder, h *elf.Header64) error {
	progSize, sectSize := uint64(56), uint64(64)
	if class == elf.ELFCLASS32 {
		progSize, sectSize = 32, 40
	}
	if h.Phnum == 0 {
		return errors.New("has no program headers, so it cannot be loaded: build it with go build -buildmode=plugin")
	}
	if uint64(h.Phentsize) < progSize || (h.Shnum > 0 && uint64(h.Shentsize) < sectSize) {
		return elfDamaged("bad header entry sizes")
	}
	phEnd, ok := elfAdd(h.Phoff, uint64(h.Phnum)*uint64(h.Phentsize))
	if !ok {
		return elfDamaged("program headers out of range")
	}
	if phEnd > size {
		return elfTruncated(size, "program headers", phEnd)
	}
	var loadEnd uint64
	dynamic := false
	for i := range uint64(h.Phnum) {
		sr := io.NewSectionReader(r, int64(h.Phoff+i*uint64(h.Phentsize)), int64(progSize))
		var p elf.Prog64
		if class == elf.ELFCLASS32 {
			var p32 elf.Prog32
			if err := binary.Read(sr, bo, &p32); err != nil {
				return elfDamaged(err.Error())
			}
			p = elf.Prog64{Type: p32.Type, Off: uint64(p32.Off), Filesz: uint64(p32.Filesz)}
		} else if err := binary.Read(sr, bo, &p); err != nil {
			return elfDamaged(err.Error())
		}
		switch elf.ProgType(p.Type) {
		case elf.PT_LOAD:
			end, ok := elfAdd(p.Off, p.Filesz)
			if !ok {
				return elfDamaged("a loadable segment is out of range")
			}
			loadEnd = max(loadEnd, end)
		case elf.PT_DYNAMIC:
			dynamic = true
		}
	}
	if loadEnd > size {
		return elfTruncated(size, "segments", loadEnd)
	}
	if !dynamic {
		return errors.New("has no dynamic section, so it is not a shared library: build it with go build -buildmode=plugin")
	}
	if h.Shoff != 0 && h.Shnum > 0 {
		shEnd, ok := elfAdd(h.Shoff, uint64(h.Shnum)*uint64(h.Shentsize))
		if !ok {
			return elfDamaged("section headers out of range")
		}
		if shEnd > size {
			return elfTruncated(size, "section headers", shEnd)
		}
	}
	f, err := elf.NewFile(r)
	if err != nil {
		return elfDamaged(err.Error())
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS {
			continue
		}
		end, ok := elfAdd(s.Offset, s.FileSize)
		if !ok {
			return elfDamaged("section " + s.Name + " is out of range")
		}
		if end > size {
			return elfTruncated(size, "sections", end)
		}
	}
	// The dynamic section must be readable, whole entries; its string table
	// (large, and inside the file: checked above) is not read, to keep the
	// check cheap next to dlopen.
	if dyn := f.SectionByType(elf.SHT_DYNAMIC); dyn != nil {
		data, err := dyn.Data()
		if err != nil {
			return elfDamaged("dynamic section: " + err.Error())
		}
		entry := uint64(16)
		if class == elf.ELFCLASS32 {
			entry = 8
		}
		if uint64(len(data))%entry != 0 {
			return elfDamaged(fmt.Sprintf("dynamic section of %d bytes is not whole %d-byte entries", len(data), entry))
		}
	}
	return nil
}

// elfAdd returns off+n, and false if that overflows or does not fit in
// an int64 (offsets given to io.ReaderAt).
func elfAdd(off, n uint64) (uint64, bool) {
	end := off + n
	return end, end >= off && end <= math.MaxInt64
}

func elfTruncated(size uint64, what string, need uint64) error {
	return fmt.Errorf("is truncated: it is %d bytes but its %s need %d (an interrupted copy or deploy?): %s", size, what, need, elfFixCopy)
}

func elfDamaged(why string) error {
	return fmt.Errorf("is a damaged ELF file (%s): %s", why, elfFixCopy)
}
