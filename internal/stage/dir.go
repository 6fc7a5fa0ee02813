package stage

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opa-stack/opa-go/internal/bufpool"
)

// Prefix starts the name of every directory NewDir makes.
const Prefix = "opa-copies-"

// newPrefix starts the name of a directory NewDir is still making: it
// has no lock yet, so Clean leaves it alone until it is staleAge old.
const newPrefix = "." + Prefix + "new-"

// lockName is the file in a Dir that its process holds locked.
const lockName = ".lock"

// Dir is a private directory of copies: made by this process with mode
// 0700, on a filesystem that allows mapping code, and locked (flock) for
// as long as it exists, so that Clean can tell the directory of a running
// process from one that a dead process left behind. Its methods are safe
// for concurrent use. A nil *Dir copies nothing: Stage then gives the file
// itself.
type Dir struct {
	path string
	lock *os.File

	mu     sync.Mutex
	byPath map[string]*File // by real path: the same file staged twice is one copy
	names  map[string]bool  // copy names in use
}

// NewDir makes a private directory for copies in the first of bases that
// exists and whose filesystem lets a process map code from it (no noexec
// mount), after removing what dead processes left in that base (Clean).
// The error names every base tried and why it was passed over.
func NewDir(bases []string) (*Dir, error) {
	var why []string
	for _, base := range bases {
		d, err := newDirIn(base)
		if err == nil {
			return d, nil
		}
		why = append(why, err.Error())
	}
	if len(why) == 0 {
		return nil, errors.New("no directory for private copies was given")
	}
	return nil, fmt.Errorf("no directory for private copies of plugins: %s", strings.Join(why, "; "))
}

func newDirIn(base string) (*Dir, error) {
	fi, err := os.Stat(base)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", base)
	}
	if noexec, err := noExec(base); err == nil && noexec {
		return nil, fmt.Errorf("%s is on a filesystem mounted noexec, from which plugins cannot be mapped", base)
	}
	Clean(base)
	// The directory is made and locked under a name Clean does not take
	// for a directory of copies, and only then renamed to one: a process
	// that cleans the base at the same moment (a host and its worker start
	// together) never sees it unlocked.
	tmp, err := os.MkdirTemp(base, newPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, err
	}
	d := &Dir{path: tmp, byPath: map[string]*File{}, names: map[string]bool{}}
	if d.lock, err = os.OpenFile(filepath.Join(tmp, lockName), os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o600); err == nil {
		err = lockFile(d.lock, true)
	}
	if err != nil {
		d.Remove()
		return nil, fmt.Errorf("%s: locking it: %w", tmp, err)
	}
	path := filepath.Join(base, Prefix+strings.TrimPrefix(filepath.Base(tmp), newPrefix))
	if err := os.Rename(tmp, path); err != nil {
		d.Remove()
		return nil, err
	}
	d.path = path
	return d, nil
}

// Path is the directory.
func (d *Dir) Path() string { return d.path }

// Remove removes the directory and every copy in it. A copy that the
// process has mapped stays readable by the process (as an unlinked file
// does) until the process exits; its name is gone at once.
func (d *Dir) Remove() error {
	if d == nil {
		return nil
	}
	err := os.RemoveAll(d.path)
	if d.lock != nil {
		d.lock.Close() // releases the lock
	}
	return err
}

// staleAge is how old a directory without a lock (one still being made,
// or one whose lock file is gone) must be before Clean takes it for a
// leftover: a running process locks its directory right after making it.
const staleAge = time.Minute

// Clean removes, in base, the directories of copies that dead processes of
// this user left behind (a process killed while it loaded plugins): those
// whose lock no process holds. It returns how many it removed, and ignores
// what it cannot remove.
func Clean(base string) int {
	entries, err := os.ReadDir(base)
	if err != nil {
		return 0
	}
	removed := 0
	for _, e := range entries {
		making := strings.HasPrefix(e.Name(), newPrefix)
		if !making && !strings.HasPrefix(e.Name(), Prefix) || !e.IsDir() {
			continue
		}
		dir := filepath.Join(base, e.Name())
		fi, err := os.Lstat(dir)
		if err != nil || !ownedByMe(fi) {
			continue
		}
		if making && time.Since(fi.ModTime()) <= staleAge || !making && !stale(dir) {
			continue // being made (a dead maker's is staleAge old), or in use
		}
		if os.RemoveAll(dir) == nil {
			removed++
		}
	}
	return removed
}

// stale says whether no running process uses a directory of copies.
func stale(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		fi, err := os.Lstat(dir)
		return err == nil && time.Since(fi.ModTime()) > staleAge
	}
	if err != nil {
		return false
	}
	defer f.Close()
	if lockFile(f, false) != nil {
		return false // its holder runs
	}
	// Got it: its holder has died, or has just removed the directory
	// (Remove unlocks last), and then there is nothing left to clean.
	return linked(f)
}

// File is a plugin file ready to be checked and opened.
type File struct {
	// Source is the path the file was found at.
	Source string
	// Path is the file to check and to give plugin.Open: the private copy,
	// or Source when the file was not copied.
	Path string
	// Copied says whether Path is a private copy.
	Copied bool
	// ReadOnly says that the file is on a read-only filesystem, where it
	// cannot change, and so was not copied.
	ReadOnly bool
	// Info is what the open descriptor of Source said: its owner, mode and
	// size are those of the bytes in Path.
	Info fs.FileInfo
	// SHA256 is the SHA-256 of the file's bytes, when it was asked for.
	SHA256 []byte
	// Holes says that Path, a copy, leaves the file's DWARF sections out
	// (they read as zeros; see debugSpans): its bytes are the file's
	// everywhere else, and SHA256 is still the file's.
	Holes bool
}

// Stage opens src (see Open) and gives the file to check and to open: a
// copy of it in d named after name, made from the open descriptor, or src
// itself when d is nil or src is on a read-only filesystem. With sum set it
// also computes the SHA-256 of those bytes, in the same pass as the copy.
// A source that changes while it is copied is refused (ErrChanged). The
// same file staged twice (by its real path, symlinks resolved) gives the
// same copy, as plugin.Open gives the plugin it opened for a path it has
// opened before; a hard link is another path, and another copy, as the
// runtime refuses it as a plugin already loaded.
func (d *Dir) Stage(src, name string, sum bool) (*File, error) {
	f, fi, err := Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	real, realErr := realPath(f)
	if d != nil && realErr == nil {
		d.mu.Lock()
		prev := d.byPath[real]
		d.mu.Unlock()
		if prev != nil {
			return prev.again(src, sum)
		}
	}
	out := &File{Source: src, Path: src, Info: fi}
	if ro, err := readOnly(f); err == nil && ro {
		out.ReadOnly = true
		if realErr == nil {
			out.Path = real
		}
	}
	if d == nil || out.ReadOnly {
		if sum {
			if out.SHA256, err = sumOf(f); err != nil {
				return nil, fmt.Errorf("reading %s for its SHA-256: %w", src, err)
			}
		}
		return out, nil
	}
	if out.Path, out.SHA256, out.Holes, err = d.copy(f, fi, name, sum); err != nil {
		return nil, fmt.Errorf("copying %s: %w", src, err)
	}
	out.Copied = true
	if realErr == nil {
		d.mu.Lock()
		d.byPath[real] = out
		d.mu.Unlock()
	}
	return out, nil
}

// Key identifies the bytes of a file staged: its device, inode, size and
// modification time when it was opened.
type Key struct {
	id          fileID
	size, mtime int64
}

// Key returns the file's Key; ok is false where the system has no inodes.
func (f *File) Key() (k Key, ok bool) {
	id, ok := idOf(f.Info)
	return Key{id, f.Info.Size(), f.Info.ModTime().UnixNano()}, ok
}

// again is a file staged before, staged again by another name (src): the
// same copy, whose SHA-256 is computed if it was not yet: from the copy,
// or, where the copy has holes, from the file, if it is still the one
// copied (the same inode, size and modification time).
func (f *File) again(src string, sum bool) (*File, error) {
	out := *f
	out.Source = src
	if !sum || out.SHA256 != nil {
		return &out, nil
	}
	var from *os.File
	var err error
	if f.Holes {
		var fi fs.FileInfo
		if from, fi, err = Open(src); err == nil && !sameFile(f.Info, fi) {
			from.Close()
			return nil, fmt.Errorf("%w since it was copied under another name: a deploy that writes into the file? Install plugins by renaming a finished file into place", ErrChanged)
		}
	} else {
		from, err = os.Open(f.Path)
	}
	if err != nil {
		return nil, err
	}
	defer from.Close()
	if out.SHA256, err = sumOf(from); err != nil {
		return nil, fmt.Errorf("reading %s for its SHA-256: %w", from.Name(), err)
	}
	return &out, nil
}

// sameFile says whether a and b are the same file with the same bytes, as
// far as stat can tell: the same inode, size and modification time.
func sameFile(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// copy writes the bytes of f into a new file in d, but for its DWARF
// sections, left as holes (see debugSpans), and returns its path, the
// SHA-256 of every byte of f when sum is set, and whether the copy has
// holes. Without sum the kernel copies (copy_file_range, which shares the
// blocks where the filesystem can).
func (d *Dir) copy(f *os.File, fi fs.FileInfo, name string, sum bool) (string, []byte, bool, error) {
	dst, err := d.create(name)
	if err != nil {
		return "", nil, false, err
	}
	var h hash.Hash
	var n int64
	skip := debugSpans(f, fi.Size())
	if sum {
		h = sha256.New()
		buf := bufpool.Get(copyBuffer)
		n, err = copyExcept(dst, f, fi.Size(), skip, h, *buf)
		bufpool.Put(buf)
	} else {
		n, err = copyExcept(dst, f, fi.Size(), skip, nil, nil)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unchanged(f, fi, n)
	}
	if err != nil {
		os.Remove(dst.Name())
		return "", nil, false, err
	}
	var sha []byte
	if h != nil {
		sha = h.Sum(nil)
	}
	return dst.Name(), sha, len(skip) > 0, nil
}

// unchanged checks that the n bytes read from f are the whole file as it
// was opened: the same size, and not written to since (the same
// modification time). The change time is not compared: a rename changes
// it, and leaves the bytes alone.
func unchanged(f *os.File, before fs.FileInfo, n int64) error {
	after, err := f.Stat()
	if err != nil {
		return err
	}
	if n != before.Size() || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return fmt.Errorf("%w (%d bytes when opened, %d read, %d now): a deploy that writes into the file? Install plugins by renaming a finished file into place", ErrChanged, before.Size(), n, after.Size())
	}
	return nil
}

// create makes a new file for a copy, named after the plugin.
func (d *Dir) create(name string) (*os.File, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	base := strings.Map(func(r rune) rune {
		if r == '/' || r == 0 {
			return '_'
		}
		return r
	}, name)
	file := base + ".so"
	for i := 2; d.names[file]; i++ {
		file = base + "-" + strconv.Itoa(i) + ".so"
	}
	d.names[file] = true
	return os.OpenFile(filepath.Join(d.path, file), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
}

// sumOf is the SHA-256 of what f holds, read from its start.
func sumOf(f *os.File) ([]byte, error) {
	h := sha256.New()
	buf := bufpool.Get(copyBuffer)
	defer bufpool.Put(buf)
	if _, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, 1<<62), *buf); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// copyBuffer is the size of the buffer a hashed copy is read through.
const copyBuffer = 1 << 20
