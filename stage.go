package opa

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/opa-stack/opa-go/internal/preflight"
	"github.com/opa-stack/opa-go/internal/stage"
)

// How a plugin's file was opened (PluginReport.Opened).
const (
	// OpenedCopy: the bytes of the file were copied into a private
	// directory before any check; the checks read the copy and
	// plugin.Open mapped it.
	OpenedCopy = "private copy"
	// OpenedReadOnly: the file is on a read-only filesystem, where it
	// cannot change, so it was checked and opened in place.
	OpenedReadOnly = "in place (read-only filesystem)"
	// OpenedInPlace: PLUGIN_OPEN_IN_PLACE is set.
	OpenedInPlace = "in place (PLUGIN_OPEN_IN_PLACE)"
)

// inPlaceWarning is the warning of a Startup with private copies off.
const inPlaceWarning = "PLUGIN_OPEN_IN_PLACE is true: .so files are checked and opened where they are found, so a file written while the host runs (cp over a loaded plugin) can crash it, and one swapped after its check can load"

// staging is the background work of one load pass on the .so files the
// filters chose: each is opened once without blocking, copied into the
// pass's private directory (hashed in the same read when pinned), and
// its package hashes are read from the copy, while earlier plugins are
// checked and opened. Files are staged in load order, by GOMAXPROCS-1
// goroutines (at least one), so the next file to open is the first one
// ready and a core is left to the goroutine that opens them, which stages
// files too while it would wait (see wait). Every decision is still
// decide's.
type staging struct {
	copy    bool     // make private copies (Startup, copies on; not Explain)
	inPlace bool     // PLUGIN_OPEN_IN_PLACE
	bases   []string // where the private directory may go
	fetch   *preflight.Prefetch
	dir     *stage.Dir // made at the first file to copy
	items   map[*candidate]*staged
	queue   chan *staged // the files to stage, in load order; made at the first
	closed  bool         // queue is closed
	workers sync.WaitGroup
}

// staged is one candidate's file, once done is closed.
type staged struct {
	c    *candidate
	sum  bool // compute its SHA-256
	done chan struct{}
	file *stage.File
	err  error
}

// newStaging returns the staging of a pass over n candidates, whose
// package hashes go to fetch.
func newStaging(copy, inPlace bool, bases []string, fetch *preflight.Prefetch, n int) *staging {
	return &staging{copy: copy, inPlace: inPlace, bases: bases, fetch: fetch, items: map[*candidate]*staged{}, queue: make(chan *staged, n)}
}

// copyBases are the directories a private directory may be made in, in
// order of preference (see Config.CopyDir). The default prefers a disk to
// a tmpfs: an unlinked copy on tmpfs holds its whole file in memory for as
// long as the process maps it, while one on disk is page cache that the
// kernel can evict (BENCHMARKS.md has the figures).
func (c Config) copyBases() []string {
	if c.CopyDir != "" {
		return []string{c.CopyDir}
	}
	return slices.Compact([]string{"/var/tmp", os.TempDir()})
}

// start queues c's file for staging, reading its SHA-256 too when sum is
// set; files are staged in the order they are started. The first file to
// copy makes the private directory; a directory that cannot be made is an
// error of the whole pass, naming the setting.
func (s *staging) start(c *candidate, sum bool, perm func(string) error) error {
	if s.copy && s.dir == nil {
		dir, err := stage.NewDir(s.bases)
		if err == nil {
			if err = perm(dir.Path()); err != nil {
				dir.Remove()
			}
		}
		if err != nil {
			return &ConfigError{Key: "PLUGIN_COPY_DIR", Err: fmt.Errorf("%w: set PLUGIN_COPY_DIR to a directory that allows exec, or PLUGIN_OPEN_IN_PLACE=true", err)}
		}
		s.dir = dir
	}
	if len(s.items) == 0 {
		for range max(1, runtime.GOMAXPROCS(0)-1) {
			s.workers.Go(func() {
				for it := range s.queue {
					s.stage(it)
				}
			})
		}
	}
	it := &staged{c: c, sum: sum, done: make(chan struct{})}
	s.items[c] = it
	s.queue <- it // never blocks: the queue holds every candidate
	return nil
}

// stage stages one file: its copy (or the file), then its package hashes.
func (s *staging) stage(it *staged) {
	defer close(it.done)
	it.file, it.err = s.dir.Stage(it.c.file, it.c.name, it.sum)
	if it.err == nil {
		s.fetch.Read(it.file.Path)
	}
}

// wait returns c's staged file, staging it now if start was not called
// (prefetch starts none where this binary cannot open .so files, yet
// Explain still checks them).
//
// While c's file is not ready, the caller stages the next file in the
// queue itself rather than wait idle. Where staging a file costs about as
// much as opening one or more (a pinned plugin's copy is hashed too), the
// goroutine that opens plugins would otherwise wait for the one that
// stages them, a few milliseconds a file, with a core to spare; staging
// another delays the opening of c's by up to a file's staging, but keeps
// both cores busy. A pinned Startup of 20 plugins took about 6% less time
// than with the earlier rule, which helped only when c's file had more
// than half of its staging left (BENCHMARKS.md). A file that is ready is
// always taken before another is staged.
func (s *staging) wait(c *candidate, sum bool) (*stage.File, error) {
	it := s.items[c]
	if it == nil {
		return s.dir.Stage(c.file, c.name, sum)
	}
	for {
		// Its own file first: a select with both ready picks at random.
		select {
		case <-it.done:
			return it.file, it.err
		default:
		}
		select {
		case <-it.done:
			return it.file, it.err
		case next, ok := <-s.queue:
			if !ok { // finished: nothing left to stage
				<-it.done
				return it.file, it.err
			}
			s.stage(next)
		}
	}
}

// finish waits for every staged file, then removes the private directory
// and the copies in it: the plugins opened from them stay mapped.
func (s *staging) finish() error {
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.workers.Wait()
	return s.dir.Remove()
}

// opened says how a staged file is opened (PluginReport.Opened).
func (s *staging) opened(f *stage.File) string {
	switch {
	case f.Copied:
		return OpenedCopy
	case f.ReadOnly:
		return OpenedReadOnly
	case s.inPlace:
		return OpenedInPlace
	}
	return "" // Explain: nothing is opened
}

// stageStep words a file that could not be staged as a plugin error's
// step and cause.
func stageStep(err error) (string, error) {
	if _, ok := errors.AsType[*preflight.NotRegularError](err); ok || errors.Is(err, stage.ErrChanged) {
		return "preflight", err
	}
	return "open", err
}

// sumHex is a SHA-256 in hex, or "" for none.
func sumHex(sum []byte) string {
	if sum == nil {
		return ""
	}
	return hex.EncodeToString(sum)
}
