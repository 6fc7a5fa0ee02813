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
	"github.com/opa-stack/opa-go/internal/stage"
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

// TestStagingCallerHelps: while the caller's own file is being staged
// elsewhere, it stages the files queued after it instead of waiting idle,
// and returns its own once that is done.
func TestStagingCallerHelps(t *testing.T) {
	src := t.TempDir()
	s := newStaging(true, false, []string{t.TempDir()}, preflight.NewPrefetch(), 4)
	var err error
	s.dir, err = stage.NewDir(s.bases)
	require.NoError(t, err)
	defer s.dir.Remove()
	var own *staged
	var queued []*staged
	for i := range 4 {
		name := "p" + strconv.Itoa(i)
		file := filepath.Join(src, name+".so")
		require.NoError(t, os.WriteFile(file, []byte(name), 0o644))
		it := &staged{c: &candidate{name: name, file: file}, done: make(chan struct{})}
		s.items[it.c] = it
		if i == 0 { // the caller's: another goroutine stages it
			own = it
			continue
		}
		queued = append(queued, it)
		s.queue <- it
	}
	got := make(chan *stage.File)
	go func() {
		f, err := s.wait(own.c, false)
		assert.NoError(t, err)
		got <- f
	}()
	for _, it := range queued {
		select {
		case <-it.done:
		case <-time.After(time.Minute):
			t.Fatalf("%s was not staged while the caller waited", it.c.name)
		}
		require.NoError(t, it.err)
		assert.True(t, it.file.Copied, it.c.name)
	}
	select {
	case <-got:
		t.Fatal("wait returned before its own file was staged")
	default:
	}
	own.file, own.err = s.dir.Stage(own.c.file, own.c.name, false)
	close(own.done)
	assert.Equal(t, own.file, <-got)
}

// TestStagingOwnFileFirst: a caller whose file is ready takes it, and
// stages nothing else first, however many files are queued. (A select
// on both picked one at random: half the time the opener staged another
// file before opening its own.)
func TestStagingOwnFileFirst(t *testing.T) {
	src := t.TempDir()
	file := filepath.Join(src, "p.so")
	require.NoError(t, os.WriteFile(file, []byte("p"), 0o644))
	for round := range 20 {
		s := newStaging(false, false, nil, preflight.NewPrefetch(), 2)
		own := &staged{c: &candidate{name: "own", file: file}, done: make(chan struct{}), file: &stage.File{Path: file}}
		close(own.done)
		next := &staged{c: &candidate{name: "next", file: file}, done: make(chan struct{})}
		s.items[own.c], s.items[next.c] = own, next
		s.queue <- next
		f, err := s.wait(own.c, false)
		require.NoError(t, err)
		assert.Same(t, own.file, f)
		select {
		case <-next.done:
			t.Fatalf("round %d: the caller staged a queued file before taking its own, which was ready", round)
		default:
		}
	}
}
