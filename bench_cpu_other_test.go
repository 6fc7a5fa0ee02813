//go:build !unix

package opa_test

import "time"

// processCPU is unknown where getrusage is missing: the benchmarks then
// report wall time only.
func processCPU() (time.Duration, bool) { return 0, false }
