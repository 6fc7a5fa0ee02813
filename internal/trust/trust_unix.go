//go:build unix

package trust

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// maxLinks bounds the symlinks followed for one path, as the kernel's
// ELOOP does.
const maxLinks = 40

// Check applies the rule (see the package doc) to path and returns the
// first entry, from / down, that breaks it as an *Error. A path that cannot
// be resolved is an error wrapping the cause (fs.ErrNotExist when a name on
// the way does not exist).
func Check(path string) error { return new(Checker).Check(path) }

// Checker applies the rule to many paths, and remembers each directory it
// found trusted (with every directory above it), so that the files of one
// directory cost one lstat each. It suits one pass over a set of files: a
// change made after it looked is not seen. Not safe for concurrent use.
type Checker struct {
	trusted map[string]bool // real directories that passed, with their ancestors
	uid     uint32          // the user this process runs as, read once
}

// walker starts the walk of one path, abs, with what c knows.
func (c *Checker) walker(abs string) walker {
	if c.trusted == nil {
		c.trusted = map[string]bool{}
		c.uid = uint32(os.Geteuid())
	}
	return walker{uid: c.uid, checked: abs, trusted: c.trusted}
}

// Check is the package's Check, with the directories found trusted so far
// taken as checked.
func (c *Checker) Check(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	w := c.walker(abs)
	return w.walk(abs)
}

// CheckOpen is Check for a file the caller then reads. Where it can, it
// opens the file (not following a symlink at its end, and without blocking
// on a FIFO) and applies the rule for the file at the end of path to the
// open descriptor's FileInfo instead of to an lstat of path, and returns
// the open file and that FileInfo: the caller reads the very file that was
// checked and needs no stat of its own. It can when path is a regular file
// in a directory that passes the rule and whose path holds no symlink.
// Otherwise (path ends in a symlink, or its directory is reached through
// one, or the file cannot be opened so) it returns what Check returns and
// a nil file: the caller opens path itself, as after Check. A path that
// does not exist is an error wrapping fs.ErrNotExist, as with Check.
func (c *Checker) CheckOpen(path string) (*os.File, fs.FileInfo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Dir(abs)
	w := c.walker(abs)
	if dir == abs {
		return nil, nil, w.walk(abs) // "/"
	}
	if !c.trusted[dir] {
		// The walk of dir checks what the walk of abs checks on its way
		// to the last name, and says so as it would (w.checked is abs).
		// dir itself is then trusted only when it is a real directory.
		if err := w.walk(dir); err != nil || !c.trusted[dir] {
			return nil, nil, c.Check(path)
		}
	}
	f, err := os.OpenFile(abs, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	if err != nil { // a symlink (ELOOP, or EMLINK on some BSDs), or unreadable
		return nil, nil, c.Check(path)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, c.Check(path)
	}
	if err := w.file(abs, fi); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// file applies the rule for the file at the end of abs to fi, what its
// open descriptor says: its owner, and who may write it.
func (w *walker) file(abs string, fi fs.FileInfo) error {
	if err := w.owner(abs, fi); err != nil {
		return err
	}
	return w.writable(abs, fi, false)
}

// CheckOpened is Check for a file that the caller has open, with fi the
// open descriptor's FileInfo: the rule for the file at the end of path is
// applied to fi as well. Whatever was at path when Check looked, the bytes
// the caller reads are those of the file it opened, so that is the file
// whose owner and mode count: one swapped in by someone who can rename
// entries in its directory is refused.
func (c *Checker) CheckOpened(path string, fi fs.FileInfo) error {
	if err := c.Check(path); err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	w := c.walker(abs)
	return w.file(abs, fi)
}

// walker resolves one path and checks what it passes.
type walker struct {
	uid     uint32          // the user this process runs as
	checked string          // the path being checked, absolute
	links   int             // symlinks followed so far
	trusted map[string]bool // see Checker
}

// walk resolves abs from /, one name at a time. It starts below the
// deepest directory of abs already trusted: such a directory has no symlink
// on its path, so resolving abs would pass through it.
func (w *walker) walk(abs string) error {
	cur, rest := "/", splitPath(abs)
	var curInfo fs.FileInfo // nil: cur is trusted
	for i := len(rest) - 1; i > 0; i-- {
		if dir := "/" + strings.Join(rest[:i], "/"); w.trusted[dir] {
			cur, rest = dir, rest[i:]
			break
		}
	}
	if cur == "/" && !w.trusted["/"] {
		root, err := os.Lstat("/")
		if err != nil {
			return err
		}
		if err := w.owner("/", root); err != nil {
			return err
		}
		curInfo = root
	}
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case ".":
			continue
		case "..":
			var err error
			cur = filepath.Dir(cur)
			if curInfo, err = os.Lstat(cur); err != nil {
				return err
			}
			continue
		}
		if curInfo != nil {
			if !curInfo.IsDir() {
				return fmt.Errorf("%s: %w", cur, syscall.ENOTDIR)
			}
			// cur is looked into: others must not be able to rename name away.
			if err := w.writable(cur, curInfo, true); err != nil {
				return err
			}
			w.trusted[cur] = true
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return err
		}
		if err := w.owner(next, fi); err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if w.links++; w.links > maxLinks {
				return fmt.Errorf("%s: %w", w.checked, syscall.ELOOP)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return err
			}
			if filepath.IsAbs(target) {
				cur, curInfo = "/", nil // checked above, or trusted
			}
			rest = append(splitPath(target), rest...)
			continue
		}
		if len(rest) == 0 {
			err := w.writable(next, fi, fi.IsDir())
			if err == nil && fi.IsDir() {
				w.trusted[next] = true
			}
			return err
		}
		cur, curInfo = next, fi
	}
	// The path was "/" itself, or ended in "." or "..".
	if curInfo == nil {
		return nil
	}
	if err := w.writable(cur, curInfo, true); err != nil {
		return err
	}
	w.trusted[cur] = true
	return nil
}

// splitPath returns the names of a path, without empty ones.
func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}

// owner refuses an entry owned by neither root nor this process's user.
func (w *walker) owner(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 || st.Uid == w.uid {
		return nil
	}
	fix := "chown root " + path
	if w.uid != 0 {
		fix += " (or chown " + userName(w.uid) + " " + path + ")"
	}
	return w.fail(path, fmt.Sprintf("is owned by %s, neither root nor the user this host runs as, %s", describeUser(st.Uid), describeUser(w.uid)),
		describeUser(st.Uid), fix)
}

// writable refuses an entry that users other than its owner can write. A
// directory on the way (dir) may have the sticky bit instead: then only the
// owner of an entry in it can rename or remove the entry, and each entry's
// owner is checked.
func (w *walker) writable(path string, fi fs.FileInfo, dir bool) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	mode := uint32(st.Mode) & 0o7777
	sticky := dir && mode&syscall.S_ISVTX != 0
	bits := func(bit string) string {
		if dir {
			return fmt.Sprintf("mode %04o, no sticky bit", mode)
		}
		return fmt.Sprintf("mode %04o, bit %s", mode, bit)
	}
	if mode&0o002 != 0 && !sticky {
		return w.fail(path, "is writable by every user ("+bits("o+w")+")", "anyone", "chmod o-w "+path)
	}
	if mode&0o020 != 0 && !sticky {
		if primary, err := primaryGroup(st.Uid); err != nil || primary != st.Gid {
			group := describeGroup(st.Gid)
			return w.fail(path, fmt.Sprintf("is writable by group %s, which is not its owner's own group (%s)", group, bits("g+w")),
				"anyone in group "+group, "chmod g-w "+path)
		}
	}
	return nil
}

// fail makes the error for path, naming the real path of what was checked
// when it differs.
func (w *walker) fail(path, problem, who, fix string) error {
	e := &Error{Path: path, Checked: w.checked, problem: problem, who: who, fix: fix}
	if real, err := filepath.EvalSymlinks(w.checked); err == nil && real != w.checked {
		e.Real = real
	}
	return e
}

// primaryGroup returns the primary group of a user.
func primaryGroup(uid uint32) (uint32, error) {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return 0, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	return uint32(gid), err
}

// describeUser is "uid 1001 (alice)", or "uid 1001" for an unknown user.
func describeUser(uid uint32) string {
	s := "uid " + strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil && u.Username != "" {
		s += " (" + u.Username + ")"
	}
	return s
}

// userName is a user's name, or its uid when it has none.
func userName(uid uint32) string {
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.FormatUint(uint64(uid), 10)
}

// describeGroup is "50 (staff)", or "50" for an unknown group.
func describeGroup(gid uint32) string {
	s := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(s); err == nil && g.Name != "" {
		s += " (" + g.Name + ")"
	}
	return s
}
