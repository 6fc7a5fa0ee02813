package stage

import (
	"os"
	"strconv"
	"syscall"
)

// Flags of statfs's f_flags (linux/statfs.h).
const (
	stRdonly = 0x1
	stNoexec = 0x8
)

func statfsFlags(f func(*syscall.Statfs_t) error) (int64, error) {
	var st syscall.Statfs_t
	if err := f(&st); err != nil {
		return 0, err
	}
	return int64(st.Flags), nil //nolint:unconvert // int32 on some architectures
}

// readOnly says whether f is on a filesystem mounted read-only.
func readOnly(f *os.File) (bool, error) {
	conn, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var flags int64
	var serr error
	if err := conn.Control(func(fd uintptr) {
		flags, serr = statfsFlags(func(st *syscall.Statfs_t) error { return syscall.Fstatfs(int(fd), st) })
	}); err != nil {
		return false, err
	}
	return flags&stRdonly != 0, serr
}

// noExec says whether dir is on a filesystem mounted noexec.
func noExec(dir string) (bool, error) {
	flags, err := statfsFlags(func(st *syscall.Statfs_t) error { return syscall.Statfs(dir, st) })
	return flags&stNoexec != 0, err
}

// realPath is the path of the file f has open, as the kernel knows it.
func realPath(f *os.File) (string, error) {
	return os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
}
