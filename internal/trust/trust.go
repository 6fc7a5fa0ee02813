// Package trust decides whether a file can be trusted to decide what code a
// host runs: nobody but its owner (or root) may be able to change it, or
// any directory on the way to it, as OpenSSH's StrictModes requires of a
// user's keys.
//
// # The rule
//
// The path is resolved the way the kernel resolves it, one name at a time
// from /, following every symlink. Every directory looked into and every
// entry found on the way (the symlinks themselves, the directories, the file
// at the end) is checked:
//
//   - an entry owned by a user other than root and the one this process
//     runs as is refused: its owner can change it;
//   - a directory that users other than its owner can write (world-writable,
//     or group-writable with a group other than its owner's own) is refused,
//     unless it has the sticky bit (as /tmp has): then only the owner of an
//     entry can rename or remove it, and the entry is checked as above;
//   - a file (the end of the path) that users other than its owner can
//     write is refused, sticky bit or not.
package trust

import (
	"fmt"
	"strings"
)

// Error is a path that someone other than its owner and root can change.
// Its message names the entry that breaks the rule, the mode bit or owner
// that does, what could be replaced through it, and the command that fixes
// it:
//
//	/srv/shared is writable by every user (mode 0777, no sticky bit), so
//	anyone can replace /srv/shared/plugins/hello.so: run chmod o-w /srv/shared
type Error struct {
	// Path is the entry that breaks the rule, with symlinks resolved.
	Path string
	// Checked is the path that was checked, as given.
	Checked string
	// Real is Checked with symlinks resolved ("" when it holds none, or
	// could not be resolved).
	Real string

	problem string // "is writable by every user (mode 0777, no sticky bit)"
	who     string // "anyone", "anyone in group 50 (staff)", "uid 1001 (alice)"
	fix     string // "chmod o-w /srv/shared"
}

// Error says what is wrong, what it puts at risk and how to fix it.
func (e *Error) Error() string {
	var at string
	switch {
	case e.Real == "" && e.Path == e.Checked:
		at = "change it"
	case e.Real == "":
		at = "replace " + e.Checked
	case e.Path == e.Real:
		at = "change it, the target of the symlink " + e.Checked
	case strings.HasPrefix(e.Real, strings.TrimSuffix(e.Path, "/")+"/"):
		at = "replace " + e.Real + ", the target of the symlink " + e.Checked
	default:
		at = "replace the symlink " + e.Checked + " (to " + e.Real + ")"
	}
	return fmt.Sprintf("%s %s, so %s can %s: run %s", e.Path, e.problem, e.who, at, e.fix)
}
