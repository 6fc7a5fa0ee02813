package serve_test

// Set by build-tagged files: the test host and plugins must be built the
// way this test binary was.
var (
	raceEnabled bool
	cgoEnabled  bool
)
