// Command swapper is the attacker of the swap test: it exchanges two paths
// with renameat2(RENAME_EXCHANGE), in a loop, as a user who can rename
// entries in a plugin folder could, until it is killed or its time limit
// passes. It prints "swapping" once it has made its first exchange.
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// renameat2 numbers by architecture (the syscall package lacks some).
var sysRenameat2 = map[string]uintptr{"amd64": 316, "arm64": 276, "riscv64": 276, "386": 353}

const (
	atFDCWD        = -100
	renameExchange = 1 << 1
)

func exchange(a, b string) error {
	nr, ok := sysRenameat2[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("renameat2 unknown on %s", runtime.GOARCH)
	}
	pa, err := syscall.BytePtrFromString(a)
	if err != nil {
		return err
	}
	pb, err := syscall.BytePtrFromString(b)
	if err != nil {
		return err
	}
	fd := atFDCWD
	_, _, errno := syscall.Syscall6(nr, uintptr(fd), uintptr(unsafe.Pointer(pa)), uintptr(fd), uintptr(unsafe.Pointer(pb)), renameExchange, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: swapper A B SECONDS")
		os.Exit(2)
	}
	limit, err := time.ParseDuration(os.Args[3] + "s")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	deadline := time.Now().Add(limit)
	for i := 0; time.Now().Before(deadline); i++ {
		if err := exchange(os.Args[1], os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "swapper:", err)
			os.Exit(1)
		}
		if i == 0 {
			fmt.Println("swapping")
		}
	}
}
