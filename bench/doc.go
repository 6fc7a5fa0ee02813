// Package bench holds opa-go's benchmarks that need more than the library's
// own test binary: the same hook called over hashicorp/go-plugin's net/rpc
// in a child process (rpc_test.go), the programs that time Startup of real
// .so plugins in fresh processes (cmd/starthost, cmd/startbare), and the
// runner behind `make bench` (cmd/opabench, started by run.sh), which runs
// everything and prints the table of ../BENCHMARKS.md.
//
// It is its own module, so that go-plugin and its dependencies never reach
// the library's go.mod.
package bench
