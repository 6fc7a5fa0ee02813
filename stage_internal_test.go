package opa

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opa-stack/opa-go/internal/preflight"
)

// TestStagingGivesEachFileItsCopy: files staged by the staging goroutines
// and, while the caller waits, by the caller itself, each come back as a
// private copy of their own bytes, in the order asked for; the copies go
// with the directory at finish.
func TestStagingGivesEachFileItsCopy(t *testing.T) {
	src := t.TempDir()
	var cands []*candidate
	for i := range 12 {
		name := "p" + strconv.Itoa(i)
		file := filepath.Join(src, name+".so")
		require.NoError(t, os.WriteFile(file, bytes.Repeat([]byte{byte(i)}, 1<<20+i), 0o644))
		cands = append(cands, &candidate{name: name, file: file})
	}
	s := newStaging(true, false, []string{t.TempDir()}, preflight.NewPrefetch(), len(cands))
	for i, c := range cands {
		require.NoError(t, s.start(c, i%2 == 0, func(string) error { return nil }))
	}
	dir := s.dir.Path()
	for i, c := range cands {
		f, err := s.wait(c, i%2 == 0)
		require.NoError(t, err, c.name)
		assert.True(t, f.Copied, c.name)
		assert.Equal(t, c.file, f.Source)
		got, err := os.ReadFile(f.Path)
		require.NoError(t, err)
		assert.Equal(t, bytes.Repeat([]byte{byte(i)}, 1<<20+i), got, "%s: the copy holds another file's bytes", c.name)
		assert.Equal(t, i%2 == 0, f.SHA256 != nil, "%s: hashed only when asked", c.name)
	}
	require.NoError(t, s.finish())
	_, err := os.Stat(dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "the private directory outlived the pass")
}

// TestWorthHelping: the caller stages another file only while its own has
// more than half of a file's staging left.
func TestWorthHelping(t *testing.T) {
	s := &staging{}
	it := &staged{}
	assert.True(t, s.worthHelping(it), "not started: help")
	it.started.Store(time.Now().UnixNano())
	assert.True(t, s.worthHelping(it), "no file timed yet (the first): help")
	s.last.Store(int64(time.Hour))
	assert.True(t, s.worthHelping(it), "just started, files take an hour: help")
	it.started.Store(time.Now().Add(-40 * time.Minute).UnixNano())
	assert.False(t, s.worthHelping(it), "two thirds done: wait")
}
