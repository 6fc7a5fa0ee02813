package e2e

import (
	"bytes"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// freePort returns a loopback port that nothing listened on a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// closedAddr is a loopback address where no server listens.
func closedAddr(t *testing.T) string {
	return "127.0.0.1:" + strconv.Itoa(freePort(t))
}

// startRedis starts a redis-server of its own on a free loopback port, with
// no persistence and the given password, and returns its address. It is
// killed at the end of the test. Without a redis-server binary the test is
// skipped.
func startRedis(t *testing.T, password string) string {
	t.Helper()
	bin := testenv.Command(t, "redis-server", "apt-get install -y redis-server")
	port := strconv.Itoa(freePort(t))
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--requirepass", password)
	cmd.Dir = t.TempDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := "127.0.0.1:" + port
	// Wait until it accepts connections, or has exited.
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("redis-server exited: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
