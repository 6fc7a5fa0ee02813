package preflight

import (
	"runtime"
	"sync"
)

// Prefetch reads in the background what the checks of a .so file need that
// costs milliseconds: its package hashes. A loader starts it for every plugin it chose, then checks and
// opens them one by one; the reads of later plugins run on the other cores
// while earlier ones are opened. A nil *Prefetch reads when asked.
type Prefetch struct {
	mu    sync.Mutex
	items map[string]*fetched
	sem   chan struct{}
}

type fetched struct {
	done   chan struct{}
	pkgs   *Packages
	pkgErr error
}

// NewPrefetch returns a Prefetch that reads at most GOMAXPROCS-1 files at
// once (at least one), leaving a core to the goroutine that opens plugins.
func NewPrefetch() *Prefetch {
	return &Prefetch{items: map[string]*fetched{}, sem: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1))}
}

// Start begins reading file's package hashes. Starting a file twice reads
// it once.
func (p *Prefetch) Start(file string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.items[file]; ok {
		return
	}
	it := &fetched{done: make(chan struct{})}
	p.items[file] = it
	go func() {
		defer close(it.done)
		p.sem <- struct{}{}
		defer func() { <-p.sem }()
		it.pkgs, it.pkgErr = ReadPackages(file)
	}()
}

// item waits for file's reads, or returns nil when they were not started.
func (p *Prefetch) item(file string) *fetched {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	it := p.items[file]
	p.mu.Unlock()
	if it != nil {
		<-it.done
	}
	return it
}

// Packages returns the package hashes of file (see ReadPackages).
func (p *Prefetch) Packages(file string) (*Packages, error) {
	if it := p.item(file); it != nil {
		return it.pkgs, it.pkgErr
	}
	return ReadPackages(file)
}
