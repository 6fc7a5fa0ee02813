package opa_test

// Set by build-tagged files: the plugins must be built the way this test
// binary was.
var (
	raceEnabled bool
	cgoEnabled  bool
)
