package preflight

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"testing"
)

// patchPlugin returns a copy of plug with patch written at off (wrapped
// into the file) and, if cut > 0, cut to cut bytes (wrapped too).
func patchPlugin(plug []byte, off uint32, patch []byte, cut uint32) []byte {
	b := bytes.Clone(plug)
	if len(patch) > 0 {
		at := int(off % uint32(len(b)))
		copy(b[at:], patch)
	}
	if cut > 0 {
		b = b[:int(cut%uint32(len(b)+1))]
	}
	return b
}

// le64 is v as 8 little-endian bytes.
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// FuzzReadPackages damages a real plugin (a patch at an offset, and a
// cut) and reads its package hashes: an error or hashes, never a panic,
// a hang or an allocation beyond the file's size.
func FuzzReadPackages(f *testing.F) {
	plug := preflightPlugin(f)
	ef, err := elf.NewFile(bytes.NewReader(plug))
	if err != nil {
		f.Fatal(err)
	}
	dynsym := ef.SectionByType(elf.SHT_DYNSYM)
	dynstr := ef.Sections[dynsym.Link]
	shdr := func(i int) uint32 { return uint32(int(binary.LittleEndian.Uint64(plug[40:])) + 64*i) } // Elf64_Shdr i
	hash := uint32(hashOffset(f, plug, "runtime"))
	f.Add(uint32(0), []byte(nil), uint32(0))
	f.Add(uint32(0), []byte(nil), uint32(dynstr.Offset+dynstr.Size/2))
	f.Add(shdr(int(dynsym.Link))+32, le64(1<<62), uint32(0))                     // dynstr's size
	f.Add(shdr(int(dynsym.Link))+24, le64(1<<62), uint32(0))                     // dynstr's offset
	f.Add(uint32(dynsym.Offset)+24*5, []byte{0xff, 0xff, 0xff, 0xff}, uint32(0)) // a symbol's name
	f.Add(uint32(dynsym.Offset)+24*5+8, le64(1<<63), uint32(0))                  // a symbol's value
	f.Add(hash, []byte{0xff}, uint32(0))
	f.Add(uint32(40), le64(uint64(len(plug))-10), uint32(0)) // the section headers' offset
	f.Fuzz(func(t *testing.T, off uint32, patch []byte, cut uint32) {
		data := patchPlugin(plug, off, patch, cut)
		p, err := readPackages(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for pkg, h := range p.Hashes {
			if b, err := hex.DecodeString(h); err != nil || len(b) == 0 || len(b) > maxHashSize {
				t.Errorf("package %q: hash %q", pkg, h)
			}
		}
	})
}

// FuzzExplain damages the line table of a real plugin and explains a
// package conflict from it, as Process.Check does (sourceDirs, and
// moduleDir for opa build): an answer or none, never a panic, a hang or
// an allocation by a count the file claims.
func FuzzExplain(f *testing.F) {
	plug := preflightPlugin(f)
	pcln := uint32(pclnOffset(f, plug))
	orig := sync.OnceValue(func() lineTable { return lineTableOf(bytes.NewReader(plug), int64(len(plug))) })
	f.Add(uint32(0), []byte(nil))
	f.Add(uint32(8), le64(0xffffffff))  // nfunctab
	f.Add(uint32(16), le64(0xffffffff)) // nfiletab
	f.Add(uint32(8), le64(1))
	for field := uint32(3); field < 9; field++ { // the header's offsets of its tables
		f.Add(8*field, le64(1<<40))
		f.Add(8*field, le64(7))
	}
	f.Add(uint32(0), []byte{0xfb, 0xff, 0xff, 0xff}) // the Go 1.2 magic
	f.Add(uint32(7), []byte{4})                      // pointer size 4
	f.Fuzz(func(t *testing.T, off uint32, patch []byte) {
		data := bytes.Clone(plug)
		if len(patch) > 0 {
			at := int(pcln + off%uint32(len(data)-int(pcln)))
			copy(data[at:], patch)
		}
		lt := lineTableOf(bytes.NewReader(data), int64(len(data)))
		sourceDirs(lt, orig(), "runtime")
		sourceDirs(lt, lt, preflightModule)
		lt.moduleDir("example.com")
	})
}
