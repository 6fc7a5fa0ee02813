package preflight

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// Set by flags_test.go and cgo_test.go: the test plugin is built the way
// this test binary was, and only where cgo can build plugins.
var (
	preflightRace bool
	cgoEnabled    bool
)

// preflightModule is the main package path of the tiny test plugin.
const preflightModule = "example.com/opapreflight"

// preflightPluginBytes builds one tiny real plugin per test binary and keeps
// its bytes; the build directory is removed at once. Tests write it (or a
// damaged copy) into their own t.TempDir. The plugin is never opened.
var preflightPluginBytes = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "opa-preflight-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src := "package main\n\n// PreflightValue is looked up by no one: the plugin is only read.\nvar PreflightValue = \"preflight\"\n\nfunc main() {}\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+preflightModule+"\n\ngo 1.26\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		return nil, err
	}
	args := []string{"build", "-buildmode=plugin", "-o", "p.so"}
	if preflightRace {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=", "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go %v: %v\n%s", args, err, out)
	}
	return os.ReadFile(filepath.Join(dir, "p.so"))
})

// preflightPlugin returns the real plugin's bytes, skipping where Go
// builds no ELF plugins.
func preflightPlugin(t testing.TB) []byte {
	t.Helper()
	if runtime.GOOS != "linux" && runtime.GOOS != "freebsd" {
		t.Skipf("no ELF Go plugins on %s", runtime.GOOS)
	}
	testenv.Plugins(t, cgoEnabled)
	testenv.Command(t, "go", "put the go command of this toolchain in PATH")
	b, err := preflightPluginBytes()
	require.NoError(t, err, "building the test plugin")
	return b
}

// writePreflightFile writes data to a new file in a temp directory.
func writePreflightFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(file, data, 0o644))
	return file
}

func TestCheckELF(t *testing.T) {
	plug := preflightPlugin(t)
	ef, err := elf.NewFile(bytes.NewReader(plug))
	require.NoError(t, err)
	var loadEnd uint64
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			loadEnd = max(loadEnd, p.Off+p.Filesz)
		}
	}
	size := len(plug)
	require.Less(t, 100<<10, int(loadEnd), "100 KB must cut a loadable segment")
	require.Less(t, size/2, int(loadEnd), "half the file must cut a loadable segment")
	require.Less(t, int(loadEnd), size-1, "the section headers come after the segments")

	patched := func(off int, v uint16) []byte {
		b := bytes.Clone(plug)
		binary.LittleEndian.PutUint16(b[off:], v)
		return b
	}
	i := slices.IndexFunc(elfTargets, func(tg elfTarget) bool { return tg.goarch == runtime.GOARCH })
	require.GreaterOrEqual(t, i, 0, "no ELF target for this GOARCH")
	host := elfTargets[i]
	var other elfTarget // another GOARCH with the host's class and byte order
	for _, tg := range elfTargets {
		if tg.class == host.class && tg.data == host.data && tg.machine != host.machine {
			other = tg
			break
		}
	}
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	fix := ": rebuild it or copy it again"
	segs := func(n int) string {
		return fmt.Sprintf("is truncated: it is %d bytes but its segments need %d (an interrupted copy or deploy?)%s", n, loadEnd, fix)
	}
	notELF := func(start string) string {
		return "is not an ELF shared object (starts with " + start + "): a plugin must be a .so file built with go build -buildmode=plugin"
	}
	tests := []struct {
		name string
		data []byte
		want string // "" = no error
	}{
		{"real plugin", plug, ""},
		{"empty", nil, "is empty (0 bytes)" + fix},
		{"random bytes", random, notELF(fmt.Sprintf("%q", random[:8]))},
		{"text file", []byte("hello, this is not a plugin\n"), notELF(`"hello, t"`)},
		{"three bytes of magic", []byte("\x7fEL"), "is truncated: it is 3 bytes but its headers need 64 (an interrupted copy or deploy?)" + fix},
		{"ten bytes", plug[:10], "is truncated: it is 10 bytes but its headers need 64 (an interrupted copy or deploy?)" + fix},
		{"40 bytes", plug[:40], "is truncated: it is 40 bytes but its headers need 64 (an interrupted copy or deploy?)" + fix},
		{"cut in program headers", plug[:100], fmt.Sprintf("is truncated: it is 100 bytes but its program headers need %d (an interrupted copy or deploy?)%s", 64+56*len(ef.Progs), fix)},
		{"100 KB", plug[:100<<10], segs(100 << 10)},
		{"half", plug[:size/2], segs(size / 2)},
		{"one byte short of the segments", plug[:loadEnd-1], segs(int(loadEnd) - 1)},
		{"all but the last byte", plug[:size-1], fmt.Sprintf("is truncated: it is %d bytes but its section headers need %d (an interrupted copy or deploy?)%s", size-1, size, fix)},
		{"wrong machine", patched(18, uint16(other.machine)),
			fmt.Sprintf("was built for GOARCH=%s (%s); this host is %s: rebuild it with GOARCH=%s", other.goarch, other.machine, runtime.GOARCH, runtime.GOARCH)},
		{"executable", patched(16, uint16(elf.ET_EXEC)), "is an ELF file of type ET_EXEC, not a shared object (ET_DYN): build it with go build -buildmode=plugin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckELF(writePreflightFile(t, "p.so", tc.data))
			if tc.want == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tc.want)
			}
		})
	}
	if runtime.GOARCH == "amd64" {
		t.Run("arm64 on amd64", func(t *testing.T) {
			err := CheckELF(writePreflightFile(t, "p.so", patched(18, uint16(elf.EM_AARCH64))))
			assert.EqualError(t, err, "was built for GOARCH=arm64 (EM_AARCH64); this host is amd64: rebuild it with GOARCH=amd64")
		})
	}
	t.Run("directory named x.so", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "x.so")
		require.NoError(t, os.Mkdir(dir, 0o755))
		assert.EqualError(t, CheckELF(dir), "is a directory, not a plugin file: remove it or rename it so its name does not end in .so")
	})
	t.Run("missing", func(t *testing.T) {
		err := CheckELF(filepath.Join(t.TempDir(), "gone.so"))
		assert.ErrorIs(t, err, os.ErrNotExist)
		assert.ErrorContains(t, err, "cannot be read (stat ")
	})
}

func FuzzCheckELF(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte(elf.ELFMAG))
	f.Add([]byte("not a plugin"))
	// The real plugin's seeds are the ones that reach past the header: a
	// failed build fails the target (preflightPlugin), it never drops them.
	plug := preflightPlugin(f)
	f.Add(plug[:64])
	f.Add(plug[:4096])
	f.Add(plug[:64+56*10])
	f.Fuzz(func(t *testing.T, data []byte) {
		file := writePreflightFile(t, "f.so", data)
		if CheckELF(file) == nil {
			_ = ELFPluginPath(file)
		}
	})
}
