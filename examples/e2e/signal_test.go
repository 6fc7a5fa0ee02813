package e2e

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDuringStartup: the example host and worker, stuck in Startup
// (a plugin's init blocks), exit on SIGTERM and say why, instead of
// waiting for SIGKILL.
func TestSIGTERMDuringStartup(t *testing.T) {
	examplesBuilt(t)
	plugins := t.TempDir()
	if err := goBuild(raceEnabled, filepath.Join(plugins, "stuck.so"), "./e2e/testdata/stuck", "-buildmode=plugin"); err != nil {
		t.Fatal(err)
	}
	env := hostEnv(t, "OPA_PLUGIN_PATHS="+plugins, "OPA_OPTIONAL_COMPONENTS__DB__LOAD=no", "OPA_OPTIONAL_COMPONENTS__REDIS__LOAD=no", ownQueue[0], ownQueue[1])
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"host", []string{"-addr", "127.0.0.1:0", "-settings", settingsDir(t), "-data", t.TempDir()}},
		{"worker", []string{"-settings", settingsDir(t), "-data", t.TempDir()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := launchProc(t, tc.name, env, "stuck: init blocks", tc.args...)
			select {
			case _, ok := <-p.ready:
				if !ok {
					t.Fatalf("%s exited before the plugin's init: %v\nstderr:\n%s", tc.name, p.wait(), p.stderr)
				}
			case <-time.After(procDeadline):
				t.Fatalf("%s never reached the plugin's init\nstdout:\n%s\nstderr:\n%s", tc.name, p.stdout, p.stderr)
			}
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			err := p.wait() // fails the test if it does not exit
			st, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || st.Signaled() {
				t.Fatalf("%s: %v, want an exit with a status, not death by a signal", tc.name, err)
			}
			if !strings.Contains(p.stderr.String(), "stopped by a signal during Startup") {
				t.Errorf("%s's log does not say why it stopped:\n%s", tc.name, p.stderr)
			}
		})
	}
}
