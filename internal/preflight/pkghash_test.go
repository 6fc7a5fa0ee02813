package preflight

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// elfHashes reads the package hashes of an ELF file with debug/elf's own
// symbol decoder: the slow, independent answer ReadPackages must match.
func elfHashes(t testing.TB, data []byte) map[string]string {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	syms, err := f.DynamicSymbols()
	require.NoError(t, err)
	out := map[string]string{}
	for _, s := range syms {
		pkg, ok := strings.CutPrefix(s.Name, hashBytesPrefix)
		if !ok || s.Section == elf.SHN_UNDEF || int(s.Section) >= len(f.Sections) {
			continue
		}
		sect := f.Sections[s.Section]
		b := make([]byte, s.Size)
		_, err := sect.ReadAt(b, int64(s.Value-sect.Addr))
		require.NoError(t, err)
		out[pkg] = hex.EncodeToString(b)
	}
	return out
}

// hashOffset returns where in data the hash of package pkg lies.
func hashOffset(t testing.TB, data []byte, pkg string) int {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	syms, err := f.DynamicSymbols()
	require.NoError(t, err)
	for _, s := range syms {
		if s.Name == hashBytesPrefix+pkg {
			sect := f.Sections[s.Section]
			return int(sect.Offset + s.Value - sect.Addr)
		}
	}
	t.Fatalf("no hash symbol for package %s", pkg)
	return 0
}

// pclnOffset returns where in data the Go line table starts.
func pclnOffset(t testing.TB, data []byte) int {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	s := f.Section(".gopclntab")
	require.NotNil(t, s)
	return int(s.Offset)
}

// damagedNfunctab is the plugin with one package's hash flipped (so it
// conflicts with the plugin itself) and its line table's function count
// set to 0xffffffff: debug/gosym allocates by that count.
func damagedNfunctab(t testing.TB, plug []byte, pkg string) []byte {
	t.Helper()
	b := bytes.Clone(plug)
	b[hashOffset(t, b, pkg)] ^= 0xff
	binary.LittleEndian.PutUint64(b[pclnOffset(t, b)+8:], 0xffffffff)
	return b
}

func TestReadPackages(t *testing.T) {
	plug := preflightPlugin(t)
	want := elfHashes(t, plug)
	require.Contains(t, want, "runtime", "debug/elf finds the hashes")

	t.Run("real plugin", func(t *testing.T) {
		p, err := ReadPackages(writePreflightFile(t, "p.so", plug))
		require.NoError(t, err)
		assert.Equal(t, want, p.Hashes)
	})
	t.Run("not ELF", func(t *testing.T) {
		_, err := ReadPackages(writePreflightFile(t, "p.so", []byte("hello, not a plugin\n")))
		assert.ErrorIs(t, err, ErrNoHashes)
	})
	t.Run("missing", func(t *testing.T) {
		_, err := ReadPackages(filepath.Join(t.TempDir(), "gone.so"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	// Cut anywhere, the file gives an error, never a fault or a wrong
	// answer: every cut in the symbol and string tables, and a few more.
	f, err := elf.NewFile(bytes.NewReader(plug))
	require.NoError(t, err)
	dynsym := f.SectionByType(elf.SHT_DYNSYM)
	dynstr := f.Sections[dynsym.Link]
	cuts := []int{64, 4096, int(dynsym.Offset) + 24*3, int(dynstr.Offset) + 10, int(dynstr.Offset+dynstr.Size) - 1, len(plug) / 2, len(plug) - 1}
	for _, cut := range cuts {
		t.Run("cut at "+strconv.Itoa(cut), func(t *testing.T) {
			p, err := ReadPackages(writePreflightFile(t, "p.so", plug[:cut]))
			assert.Nil(t, p)
			assert.Error(t, err)
		})
	}
}

// truncatingReader truncates the file it reads after its n-th read, as a
// cp over the file would while it is read.
type truncatingReader struct {
	f     *os.File
	n     int
	reads int
}

func (r *truncatingReader) ReadAt(b []byte, off int64) (int, error) {
	r.reads++
	if r.reads == r.n {
		if err := r.f.Truncate(0); err != nil {
			return 0, err
		}
	}
	return r.f.ReadAt(b, off)
}

// TestReadPackagesTruncatedMidRead cuts the real file on disk after each
// of ReadPackages' reads in turn: each time it returns an error, and never
// faults (it read through a shared mapping once, and a cut file killed the
// process with SIGBUS).
func TestReadPackagesTruncatedMidRead(t *testing.T) {
	plug := preflightPlugin(t)
	file := writePreflightFile(t, "p.so", plug)
	count := &truncatingReader{n: -1}
	var err error
	count.f, err = os.Open(file)
	require.NoError(t, err)
	_, err = readPackages(count, int64(len(plug)))
	require.NoError(t, err)
	count.f.Close()
	require.Greater(t, count.reads, 5, "ReadPackages reads in several steps")
	for n := 1; n <= count.reads; n++ {
		require.NoError(t, os.WriteFile(file, plug, 0o644))
		f, err := os.Open(file)
		require.NoError(t, err)
		p, err := readPackages(&truncatingReader{f: f, n: n}, int64(len(plug)))
		f.Close()
		assert.Nil(t, p, "cut after read %d", n)
		assert.Error(t, err, "cut after read %d", n)
	}
}

// envReadLoop, set to a file, makes TestReadPackagesWhileRewritten the
// child that reads the file's packages in a loop.
const envReadLoop = "OPA_PREFLIGHT_READ_LOOP"

// readLoopResult is what the child prints.
type readLoopResult struct {
	OK, Errors, Cut int // Cut: errors after the headers were read
	Wrong           int // a result with other hashes than the file's
	Example         string
}

// TestReadPackagesWhileRewritten runs a child process that reads a
// plugin's package hashes in a loop while this test rewrites the file in
// place (truncate, then write, as cp does): the child sees its reads cut,
// each an error, and it exits normally, never by a signal. (Through a
// shared mapping it died by SIGBUS.)
func TestReadPackagesWhileRewritten(t *testing.T) {
	if file := os.Getenv(envReadLoop); file != "" {
		readLoopChild(file)
		return
	}
	plug := preflightPlugin(t)
	want := elfHashes(t, plug)
	file := writePreflightFile(t, "p.so", plug)
	f, err := elf.NewFile(bytes.NewReader(plug))
	require.NoError(t, err)
	dynstr := f.Sections[f.SectionByType(elf.SHT_DYNSYM).Link]
	cut := int(dynstr.Offset + dynstr.Size/2)
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadPackagesWhileRewritten$", "-test.count=1")
	cmd.Env = append(os.Environ(), envReadLoop+"="+file, "OPA_PREFLIGHT_WANT="+strconv.Itoa(len(want)))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	rewrites := 0
	var waitErr error
rewrite:
	for {
		select {
		case waitErr = <-done:
			break rewrite
		default:
		}
		// Cut the file inside its string table, then write the rest back,
		// as cp (truncate, then write) does to the tail of the file.
		w, err := os.OpenFile(file, os.O_WRONLY, 0)
		require.NoError(t, err)
		require.NoError(t, w.Truncate(int64(cut)))
		_, err = w.WriteAt(plug[cut:], int64(cut))
		require.NoError(t, err)
		require.NoError(t, w.Close())
		rewrites++
	}
	if ee, ok := errors.AsType[*exec.ExitError](waitErr); ok {
		ws, _ := ee.Sys().(syscall.WaitStatus)
		require.False(t, ws.Signaled(), "the reader died by %v: %s", ws.Signal(), stderr.String())
	}
	require.NoError(t, waitErr, "the reader failed: %s%s", stdout.String(), stderr.String())
	var res readLoopResult
	line := stdout.String()
	_, after, ok := strings.Cut(line, "RESULT ")
	require.True(t, ok, "the child prints its counts: %s", line)
	require.NoError(t, json.Unmarshal([]byte(strings.SplitN(after, "\n", 2)[0]), &res))
	t.Logf("%d rewrites; child: %+v", rewrites, res)
	assert.Zero(t, res.Wrong, "no read gives other hashes than the file's")
	assert.Positive(t, res.Errors, "the child read while the file was cut")
	assert.Positive(t, res.Cut, "the child read while the file was cut under its reads, past the headers")
}

// readLoopReads bounds the child's loop.
const readLoopReads = 200000

// readLoopChild reads file's packages until it has seen a read cut after
// the headers a few times (or readLoopReads reads), then prints its
// counts and exits 0.
func readLoopChild(file string) {
	want, _ := strconv.Atoi(os.Getenv("OPA_PREFLIGHT_WANT"))
	var res readLoopResult
	for i := 0; i < readLoopReads && res.Cut < 20; i++ {
		p, err := ReadPackages(file)
		switch {
		case err == nil && len(p.Hashes) == want:
			res.OK++
		case err == nil:
			res.Wrong++
		case errors.Is(err, io.ErrUnexpectedEOF):
			res.Cut++
			res.Errors++
			res.Example = err.Error()
		default:
			res.Errors++
		}
	}
	b, _ := json.Marshal(res)
	os.Stdout.WriteString("RESULT " + string(b) + "\n")
	os.Exit(0)
}

// TestOpenRefusesOtherFiles: a FIFO, a socket, a device and a directory
// named as a plugin are refused by every reader, with the file's type,
// and none of them blocks.
func TestOpenRefusesOtherFiles(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no FIFOs or sockets here")
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.so")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	sock := filepath.Join(dir, "sock.so")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer l.Close()
	sub := filepath.Join(dir, "dir.so")
	require.NoError(t, os.Mkdir(sub, 0o755))
	files := []struct{ file, kind string }{
		{fifo, "is a named pipe (FIFO), not a regular file"},
		{sock, "is a socket, not a regular file"},
		{os.DevNull, "is a character device, not a regular file"},
		{sub, "is a directory, not a plugin file"},
	}
	for _, tc := range files {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			readers := map[string]func() error{
				"OpenFile": func() error {
					f, _, err := OpenFile(tc.file)
					if err == nil {
						f.Close()
					}
					return err
				},
				"CheckELF":     func() error { return CheckELF(tc.file) },
				"ReadBuild":    func() error { _, err := ReadBuild(tc.file); return err },
				"ReadPackages": func() error { _, err := ReadPackages(tc.file); return err },
			}
			for name, read := range readers {
				done := make(chan error, 1)
				go func() { done <- read() }()
				select {
				case err := <-done:
					require.Error(t, err, name)
					assert.Contains(t, err.Error(), tc.kind, name)
					if name == "OpenFile" || name == "ReadPackages" {
						assert.Contains(t, err.Error(), tc.file, "%s names the file", name)
					}
				case <-time.After(time.Minute):
					t.Fatalf("%s of %s did not return within a minute: it blocks", name, tc.file)
				}
			}
			assert.Empty(t, ELFPluginPath(tc.file))
			a, b := SourceDirs(tc.file, tc.file, "main")
			assert.Empty(t, a+b)
		})
	}
}

// TestDamagedLineTable: a plugin whose package hash conflicts is
// explained from its line table; one whose function count claims 4G
// functions gives a refusal without that explanation, never an attempt to
// allocate by it (the process died "out of memory").
func TestDamagedLineTable(t *testing.T) {
	plug := preflightPlugin(t)
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig.so")
	require.NoError(t, os.WriteFile(orig, plug, 0o644))
	const pkg = "runtime"
	flipped := bytes.Clone(plug)
	flipped[hashOffset(t, flipped, pkg)] ^= 0xff
	damaged := damagedNfunctab(t, plug, pkg)

	dirOrig, _ := SourceDirs(orig, orig, pkg)
	require.NotEmpty(t, dirOrig, "the real plugin's line table says where runtime came from")
	for _, tc := range []struct {
		name    string
		data    []byte
		explain bool // the line table still explains
	}{
		{"hash flipped", flipped, true},
		{"hash flipped, nfunctab 0xffffffff", damaged, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".so")
			require.NoError(t, os.WriteFile(file, tc.data, 0o644))
			a, b := SourceDirs(file, orig, pkg)
			assert.Equal(t, dirOrig, b)
			if tc.explain {
				assert.Equal(t, dirOrig, a)
			} else {
				assert.Empty(t, a, "a damaged line table explains nothing")
			}
			assert.Empty(t, ModuleDir(file, "example.com/none"))

			p := NewProcess("", nil)
			require.NoError(t, p.Check("orig", orig, nil))
			err := p.Check("damaged", file, nil)
			mm, ok := errors.AsType[*BuildMismatchError](err)
			require.True(t, ok, "a hash conflict is a *BuildMismatchError: %v", err)
			assert.Equal(t, pkg, mm.Package)
			assert.Equal(t, "plugin orig", mm.With)
		})
	}
}

// BenchmarkReadPackages reads the test plugin's package hashes, as the
// prefetch does for every chosen plugin (ReadAt through a fixed buffer and
// the string table; it was a shared mapping, see TestReadPackagesWhileRewritten).
func BenchmarkReadPackages(b *testing.B) {
	file := writePreflightFile(b, "p.so", preflightPlugin(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadPackages(file); err != nil {
			b.Fatal(err)
		}
	}
}
