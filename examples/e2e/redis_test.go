package e2e

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// freePort returns a loopback port that nothing listened on a moment ago;
// another process may take it since (see startRedis).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// closedAddr is a loopback address where no server listens: a port the
// kernel just gave out and took back. Should a process take it, a test
// that expects Redis there to be unavailable fails, it never passes wrongly.
func closedAddr(t *testing.T) string {
	return "127.0.0.1:" + strconv.Itoa(freePort(t))
}

// redisReady is what redis-server logs once it accepts connections.
const redisReady = "Ready to accept connections"

// redisDeadline bounds the start of a redis-server.
const redisDeadline = 30 * time.Second

// startRedis starts a redis-server of its own on a loopback port, with no
// persistence and the given password, and returns its address once it says
// it is ready. redis-server cannot be handed a listener, so it gets a port
// that was free a moment ago; when another process took it meanwhile,
// redis-server exits ("Address already in use") and it tries another port.
// It is killed at the end of the test. Without a redis-server binary the
// test is skipped, or fails under CI=true.
func startRedis(t *testing.T, password string) string {
	t.Helper()
	bin := testenv.Command(t, "redis-server", "apt-get install -y redis-server")
	for range 5 {
		addr, out, inUse := tryRedis(t, bin, password)
		if addr != "" {
			return addr
		}
		if !inUse {
			t.Fatalf("redis-server exited before %q:\n%s", redisReady, out)
		}
	}
	t.Fatal("redis-server found its port taken 5 times in a row")
	return ""
}

// tryRedis starts one redis-server on a free port and waits for its ready
// line. It returns the address, or what it printed and whether it exited
// because the port was taken.
func tryRedis(t *testing.T, bin, password string) (addr, out string, inUse bool) {
	t.Helper()
	port := strconv.Itoa(freePort(t))
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--requirepass", password)
	cmd.Dir = t.TempDir()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); pw.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	var log bytes.Buffer
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), redisReady) {
				signalled = true
				ready <- true
			}
		}
		if !signalled {
			ready <- false
		}
		_, _ = io.Copy(io.Discard, pr) // keep redis-server's writes from blocking
	}()
	select {
	case ok := <-ready:
		if ok {
			return "127.0.0.1:" + port, "", false
		}
		<-exited
		out := log.String() // the reader is done: it sent false
		return "", out, strings.Contains(out, "Address already in use")
	case <-time.After(redisDeadline):
		t.Fatalf("redis-server on port %s did not log %q within %s", port, redisReady, redisDeadline)
		return "", "", false
	}
}
