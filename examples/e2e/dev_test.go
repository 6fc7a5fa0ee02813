package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/opa-stack/opa-go/internal/testenv"
)

// TestDevReloadsAChangedPlugin is make dev: a saved change to the hello
// plugin's text is built with opa build, the host reloads, and /hello
// answers the new text, with no failed request in between.
func TestDevReloadsAChangedPlugin(t *testing.T) {
	examplesBuilt(t)
	// The tools make dev builds: opa (from the library's module) and dev.
	opaBuild := exec.Command("go", "build", "-o", filepath.Join(buildDir, "opa"), "./cmd/opa")
	opaBuild.Dir = "../.."
	if b, err := opaBuild.CombinedOutput(); err != nil {
		t.Fatalf("go build opa: %v\n%s", err, b)
	}
	if err := goBuild(false, filepath.Join(buildDir, "dev"), "./dev"); err != nil {
		t.Fatal(err)
	}
	// A copy of hello inside this module (opa build runs in the plugin's
	// module), so the test never edits the real one.
	src, err := os.MkdirTemp("testdata", "dev-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(src) })
	code, err := os.ReadFile("../plugins/hello/main.go")
	if err != nil {
		t.Fatal(err)
	}
	hello := filepath.Join(src, "hello", "main.go")
	if err := os.MkdirAll(filepath.Dir(hello), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hello, code, 0o644); err != nil {
		t.Fatal(err)
	}
	plugins := t.TempDir()
	if err := goBuild(raceEnabled, filepath.Join(plugins, "hello.so"), "./"+filepath.Join("e2e", src, "hello"), "-buildmode=plugin"); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(filepath.Join(buildDir, "dev"), "-build", buildDir, "-src", filepath.Join("e2e", src), "-plugins", plugins)
	cmd.Dir = ".."
	cmd.Env = hostEnv(t, "OPA_OPTIONAL_COMPONENTS__DB__LOAD=no", ownQueue[0], ownQueue[1], "OPA_OPTIONAL_COMPONENTS__REDIS__LOAD=no", "DATA_DIR="+t.TempDir(), "ADDR=127.0.0.1:0")
	dev := &chainProc{Group: testenv.StartGroup(t, "make dev", cmd), t: t}
	base := dev.waitLine(0, hostReady)
	dev.waitContains(0, "dev: watching")
	if code, body := getOnce(t, base+"/hello"); code != http.StatusOK || body != "Hello from a plugin\n" {
		t.Fatalf("GET /hello: %d %q", code, body)
	}
	old, err := os.ReadFile(filepath.Join(buildDir, "host.pid"))
	if err != nil {
		t.Fatal(err)
	}
	oldPID, err := strconv.Atoi(strings.TrimSpace(string(old)))
	if err != nil {
		t.Fatal(err)
	}
	stop := requestLoop(base, "/hello", 5000)
	changed := strings.Replace(string(code), "Hello from a plugin", "Hello from a saved plugin", 1)
	from := dev.Mark()
	if err := os.WriteFile(hello, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	line := dev.waitContains(from, "dev: hello (main.go)")
	t.Log(line)
	if !strings.Contains(line, ": ok, host pid") {
		t.Fatalf("the reload failed: %s", line)
	}
	dev.waitContains(from, "serve: reloaded; this process drains and exits pid="+strings.TrimSpace(string(old)))
	waitUntil(t, func() bool { return !processAlive(oldPID) }, "the old host to exit")
	stop(t)
	if code, body := getOnce(t, base+"/hello"); code != http.StatusOK || body != "Hello from a saved plugin\n" {
		t.Errorf("GET /hello after the save: %d %q, want the new text", code, body)
	}
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGINT)
	// make dev and the host it started have all exited: the output ends.
	if _, err := dev.Wait(0, countDeadline, nil); err != nil {
		t.Fatalf("make dev, or a process it started, did not stop on SIGINT: %v", err)
	}
}
