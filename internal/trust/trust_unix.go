//go:build unix

package trust

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// Check refuses a file or directory that users other than its
// owner can write, or that a non-root user other than this process's owns,
// as OpenSSH's StrictModes does.
func Check(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	mode := fi.Mode().Perm()
	if mode&0o002 != 0 {
		return fmt.Errorf("%s is writable by every user (mode %04o, bit o+w): run chmod o-w %s", path, mode, path)
	}
	if st.Uid != 0 && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s is owned by another user (uid %d; this host runs as uid %d): chown it to root or to uid %d", path, st.Uid, os.Getuid(), os.Getuid())
	}
	if mode&0o020 != 0 {
		primary, err := primaryGroup(st.Uid)
		if err != nil || primary != st.Gid {
			return fmt.Errorf("%s is writable by group %d, which is not its owner's own group (mode %04o, bit g+w): run chmod g-w %s", path, st.Gid, mode, path)
		}
	}
	return nil
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
