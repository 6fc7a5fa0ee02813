package opa

import "testing"

// TestStageNamesCannotPanic: every value of the Manager's phase and of a
// state's serving stage has a name, an unknown one too.
func TestStageNamesCannotPanic(t *testing.T) {
	for p, want := range map[phase]string{phaseNew: "new", phaseStopped: "stopped", phase(-1): "phase(-1)", phase(9): "phase(9)"} {
		if got := p.String(); got != want {
			t.Errorf("phase %d: %q, want %q", int(p), got, want)
		}
	}
	for s, want := range map[serving]string{servingHooks: "hooks", servingConnecting: "connecting components", servingAll: "everything", serving(7): "serving(7)"} {
		if got := s.String(); got != want {
			t.Errorf("serving %d: %q, want %q", int(s), got, want)
		}
	}
}
