package serve_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// BenchmarkColdStart is the time from starting the test host (one plugin)
// to its ready line: what a restart costs before the port serves again.
func BenchmarkColdStart(b *testing.B) {
	dir := buildDir(b)
	plugins := b.TempDir()
	install(b, read(b, filepath.Join(dir, "v1", "hello.so")), plugins, "hello.so")
	for b.Loop() {
		c := startChain(b, plugins)
		b.StopTimer()
		_ = syscall.Kill(-c.Cmd.Process.Pid, syscall.SIGKILL)
		b.StartTimer()
	}
}

// BenchmarkReload is the time from SIGHUP to the new process's ready line
// (it serves), for the same host: the reload's counterpart of
// BenchmarkColdStart.
func BenchmarkReload(b *testing.B) {
	dir := buildDir(b)
	plugins := b.TempDir()
	install(b, read(b, filepath.Join(dir, "v1", "hello.so")), plugins, "hello.so")
	c := startChain(b, plugins)
	ready := func(l string) bool { return strings.HasPrefix(l, "ready ") }
	for b.Loop() {
		pid := c.pid()
		from := c.Mark()
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			b.Fatal(err)
		}
		c.waitLine(from, "the new process to serve", ready)
		b.StopTimer()
		// The next reload waits for this old process to exit.
		c.waitLine(from, "the old process to exit", exitedLine(pid))
		b.StartTimer()
	}
}
