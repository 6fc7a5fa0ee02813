package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMissing runs this test binary again, once with CI=true and once
// without, and checks that a missing prerequisite fails the first and skips
// the second, naming what to install.
func TestMissing(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Missing(t, "the thing", "apt-get install -y thing")
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ci, want string }{
		{"true", "--- FAIL: TestMissing"},
		{"", "--- SKIP: TestMissing"},
	} {
		cmd := exec.Command(self, "-test.run=^TestMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+tc.ci)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "the thing is missing: apt-get install -y thing") {
			t.Errorf("CI=%q: want %q and the install command, got:\n%s", tc.ci, tc.want, out)
		}
	}
}

func TestReturns(t *testing.T) {
	if got := Returns(t, "a call that returns", func() int { return 42 }); got != 42 {
		t.Errorf("Returns gave %d, want 42", got)
	}
}
