//go:build unix

package preflight

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sizeInfo is a FileInfo that gives a size of its own.
type sizeInfo struct {
	fs.FileInfo
	size int64
}

func (s sizeInfo) Size() int64 { return s.size }

// TestReadOpenGrowingFile: ReadOpen reads to the end of a file that is
// larger than the size it was opened with, up to its limit, and fails past
// it; a file already over the limit is refused, unread, saying its size.
func TestReadOpenGrowingFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "meta.json")
	require.NoError(t, os.WriteFile(file, []byte(strings.Repeat("y", 5000)), 0o644))
	read := func(size, limit int64) ([]byte, error) {
		f, err := os.Open(file)
		require.NoError(t, err)
		defer f.Close()
		fi, err := f.Stat()
		require.NoError(t, err)
		return ReadOpen(f, sizeInfo{fi, size}, "a meta.json", limit)
	}
	data, err := read(10, 5000)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("y", 5000), string(data))

	_, err = read(10, 4999)
	assert.EqualError(t, err, "it grew past 4999 bytes while it was read")

	_, err = read(5000, 4999)
	assert.EqualError(t, err, "it is 5000 bytes, more than the 4999 a meta.json may have: is it the right file?")
}

// TestReadFileRefusesWhatIsNotAFile: ReadFile refuses a named pipe without
// waiting for a writer, and a directory, naming what the file was to be;
// a missing file is fs.ErrNotExist.
func TestReadFileRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "opa.lock")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	done := make(chan error, 1)
	go func() {
		_, err := ReadFile(fifo, "an opa.lock", 1<<20)
		done <- err
	}()
	select {
	case err := <-done:
		assert.EqualError(t, err, fifo+" is a named pipe (FIFO), not a regular file: an opa.lock must be a regular file")
		nr, ok := errNotRegular(err)
		require.True(t, ok)
		assert.Equal(t, fs.ModeNamedPipe, nr.Mode.Type())
	case <-time.After(time.Minute):
		t.Fatal("ReadFile of a named pipe blocked")
	}

	_, err := ReadFile(dir, "a settings file", 1<<20)
	assert.EqualError(t, err, dir+" is a directory, not a regular file: a settings file must be a regular file")

	_, err = ReadFile(filepath.Join(dir, "nope"), "a meta.json", 1<<20)
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

// TestReadNamed: every error of ReadNamed names the file, once.
func TestReadNamed(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "go.sum")
	require.NoError(t, os.WriteFile(big, []byte("12345"), 0o644))
	_, err := ReadNamed(big, "a go.sum", 4)
	assert.EqualError(t, err, big+": it is 5 bytes, more than the 4 a go.sum may have: is it the right file?")

	_, err = ReadNamed(dir, "a go.sum", 4)
	assert.EqualError(t, err, dir+" is a directory, not a regular file: a go.sum must be a regular file")
	missing := filepath.Join(dir, "missing")
	_, err = ReadNamed(missing, "a go.sum", 4)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, 1, strings.Count(err.Error(), missing), err.Error())

	b, err := ReadNamed(big, "a go.sum", 5)
	require.NoError(t, err)
	assert.Equal(t, "12345", string(b))
}
