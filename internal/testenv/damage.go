package testenv

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"
)

// DamageHashAndNfunctab flips the hash of package pkg in a copy of a real
// plugin, so that it conflicts with the host and the check explains the
// conflict from the line table, and sets the line table's function count
// to 0xffffffff, which debug/gosym takes as an allocation size.
func DamageHashAndNfunctab(t testing.TB, plug []byte, pkg string) []byte {
	t.Helper()
	b := bytes.Clone(plug)
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	flipped := false
	for _, s := range syms {
		if s.Name == "go:link.pkghashbytes."+pkg {
			sect := f.Sections[s.Section]
			b[sect.Offset+s.Value-sect.Addr] ^= 0xff
			flipped = true
		}
	}
	if !flipped {
		t.Fatalf("the plugin does not export the hash of %s", pkg)
	}
	pcln := f.Section(".gopclntab")
	if pcln == nil {
		t.Fatal("the plugin has no .gopclntab")
	}
	binary.LittleEndian.PutUint64(b[pcln.Offset+8:], 0xffffffff)
	return b
}
