package preflight

import (
	"runtime/debug"
	"sync"
)

// Facts is what the checks before plugin.Open read from one .so file, in
// the order they use it. Each is a pure function of the file's bytes, so a
// loader reads them ahead (Prefetch) from a file that cannot change (its
// private copy).
type Facts struct {
	// ELF is CheckELF's verdict. When it is not nil, nothing else was read.
	ELF error
	// Build and BuildErr are ReadBuild's.
	Build    *debug.BuildInfo
	BuildErr error
	// Identity is FileIdentity's: the runtime's key for the plugin.
	Identity string
	// Missing is MissingSymbol's for that key.
	Missing string
	// Packages and PackagesErr are ReadPackages's.
	Packages    *Packages
	PackagesErr error
}

// ReadFacts reads file's Facts.
func ReadFacts(file string) *Facts {
	f := &Facts{ELF: CheckELF(file)}
	if f.ELF != nil {
		f.PackagesErr = f.ELF
		return f
	}
	f.Build, f.BuildErr = ReadBuild(file)
	f.Identity = FileIdentity(file, f.Build)
	f.Missing = MissingSymbol(file, f.Build, f.Identity)
	f.Packages, f.PackagesErr = ReadPackages(file)
	return f
}

// Prefetch holds the Facts of .so files read ahead of their checks. A
// loader reads each plugin it chose (Read) on a goroutine of its own, in
// load order, while it checks and opens the earlier ones. A nil *Prefetch
// reads when asked.
type Prefetch struct {
	mu    sync.Mutex
	items map[string]*fetched
}

type fetched struct {
	done  chan struct{}
	facts *Facts
}

// NewPrefetch returns an empty Prefetch.
func NewPrefetch() *Prefetch {
	return &Prefetch{items: map[string]*fetched{}}
}

// Read reads file's Facts now, on the caller's goroutine, and keeps them
// (a nil *Prefetch keeps nothing). Reading a file twice reads it once:
// the second call waits for the first.
func (p *Prefetch) Read(file string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	if it, ok := p.items[file]; ok {
		p.mu.Unlock()
		<-it.done
		return
	}
	it := &fetched{done: make(chan struct{})}
	p.items[file] = it
	p.mu.Unlock()
	defer close(it.done)
	it.facts = ReadFacts(file)
}

// Facts returns file's Facts: those Read kept (waiting for a read under
// way), or read now.
func (p *Prefetch) Facts(file string) *Facts {
	if f := p.kept(file); f != nil {
		return f
	}
	return ReadFacts(file)
}

// Packages returns the package hashes of file (see ReadPackages): those
// Read kept, or read now.
func (p *Prefetch) Packages(file string) (*Packages, error) {
	if f := p.kept(file); f != nil {
		return f.Packages, f.PackagesErr
	}
	return ReadPackages(file)
}

// kept returns the Facts that Read keeps for file, waiting for a read
// under way, or nil when none was begun.
func (p *Prefetch) kept(file string) *Facts {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	it := p.items[file]
	p.mu.Unlock()
	if it == nil {
		return nil
	}
	<-it.done
	return it.facts
}
