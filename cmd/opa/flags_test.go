package main

// Set by build-tagged files: the opa binary, the test host and the fixture
// plugins are built the way this test binary was.
var (
	raceEnabled bool
	cgoEnabled  bool
)
