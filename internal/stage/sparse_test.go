//go:build unix

package stage

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// elfWithDWARF builds a small Go program, an ELF file with DWARF sections
// as go build leaves them, and returns its path and bytes.
func elfWithDWARF(t *testing.T) (string, []byte) {
	t.Helper()
	testenv.Unix(t)
	goCmd := testenv.Command(t, "go", "install Go")
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module withdwarf\n\ngo 1.22\n")
	write(t, filepath.Join(dir, "main.go"), "package main\n\nfunc main() { println(\"hello\") }\n")
	path := filepath.Join(t.TempDir(), "withdwarf.so")
	cmd := exec.Command(goCmd, "build", "-o", path, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	ef, err := elf.NewFile(bytes.NewReader(b))
	require.NoError(t, err)
	require.NotNil(t, ef.Section(".debug_info"), "go build leaves DWARF in")
	return path, b
}

// TestCopyLeavesDWARFOut: a staged copy of an ELF file holds every byte of
// it but its DWARF sections, which read as zeros and hold no blocks, with
// and without a SHA-256, which is the whole file's; every loaded segment,
// the symbol table and the section headers are the file's; the same file
// staged again by another name with a SHA-256 asked only then gets the
// file's SHA-256, not the copy's; and a file that is not ELF is copied
// whole.
func TestCopyLeavesDWARFOut(t *testing.T) {
	src, orig := elfWithDWARF(t)
	want := sha256.Sum256(orig)
	ef, err := elf.NewFile(bytes.NewReader(orig))
	require.NoError(t, err)
	for _, sum := range []bool{false, true} {
		d, err := NewDir([]string{t.TempDir()})
		require.NoError(t, err)
		f, err := d.Stage(src, "withdwarf", sum)
		require.NoError(t, err)
		assert.True(t, f.Holes)
		if sum {
			assert.Equal(t, want[:], f.SHA256, "the SHA-256 is the file's")
		}
		got, err := os.ReadFile(f.Path)
		require.NoError(t, err)
		require.Len(t, got, len(orig))
		var dwarf int
		for _, s := range ef.Sections {
			if s.Type == elf.SHT_NOBITS || s.FileSize == 0 {
				continue
			}
			part := got[s.Offset : s.Offset+s.FileSize]
			if strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
				assert.Equal(t, make([]byte, len(part)), part, "%s is a hole", s.Name)
				dwarf += len(part)
				continue
			}
			assert.True(t, bytes.Equal(orig[s.Offset:s.Offset+s.FileSize], part), "%s is the file's", s.Name)
		}
		for _, p := range ef.Progs {
			if p.Type == elf.PT_LOAD {
				assert.True(t, bytes.Equal(orig[p.Off:p.Off+p.Filesz], got[p.Off:p.Off+p.Filesz]), "a loaded segment at %#x is the file's", p.Off)
			}
		}
		require.NotZero(t, dwarf)
		_, err = elf.NewFile(bytes.NewReader(got))
		assert.NoError(t, err, "the copy is an ELF file debug/elf reads")
		if fi, err := os.Stat(f.Path); assert.NoError(t, err) {
			assert.Less(t, blocks(fi)*512, fi.Size()-int64(dwarf)/2, "the holes hold no blocks")
		}

		// The same file by another name, its SHA-256 asked for now.
		link := filepath.Join(t.TempDir(), "again.so")
		require.NoError(t, os.Symlink(src, link))
		again, err := d.Stage(link, "again", true)
		require.NoError(t, err)
		assert.Equal(t, f.Path, again.Path, "the same copy")
		assert.Equal(t, want[:], again.SHA256, "the file's SHA-256, not the copy's")
		require.NoError(t, d.Remove())
	}

	// Not ELF: copied whole.
	plain := filepath.Join(t.TempDir(), "plain.so")
	write(t, plain, "not an ELF file")
	d, err := NewDir([]string{t.TempDir()})
	require.NoError(t, err)
	defer d.Remove()
	f, err := d.Stage(plain, "plain", false)
	require.NoError(t, err)
	assert.False(t, f.Holes)
	got, err := os.ReadFile(f.Path)
	require.NoError(t, err)
	assert.Equal(t, "not an ELF file", string(got))
}

// TestAgainRefusesAFileChangedSinceItsCopy: the SHA-256 of a copy with
// holes is read from the file, so a file written to since it was copied
// is refused rather than hashed.
func TestAgainRefusesAFileChangedSinceItsCopy(t *testing.T) {
	src, orig := elfWithDWARF(t)
	d, err := NewDir([]string{t.TempDir()})
	require.NoError(t, err)
	defer d.Remove()
	f, err := d.Stage(src, "withdwarf", false)
	require.NoError(t, err)
	require.True(t, f.Holes)
	require.NoError(t, os.WriteFile(src, append(orig, 0), 0o644)) // in place: same inode
	_, err = d.Stage(src, "again", true)
	assert.ErrorIs(t, err, ErrChanged)
}

// blocks is the number of 512-byte blocks a file holds.
func blocks(fi fs.FileInfo) int64 { return fi.Sys().(*syscall.Stat_t).Blocks }
