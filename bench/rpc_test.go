package bench

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/bench/internal/adder"
)

// addFn is the type of the "add" hook.
type addFn func(a, b int) int

var sinkInt int

// rpcPlugin returns the rpcplugin binary: the one run.sh built (named by
// BENCH_RPC_PLUGIN), or one built now.
func rpcPlugin(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("BENCH_RPC_PLUGIN"); p != "" {
		return p
	}
	out := filepath.Join(b.TempDir(), "rpcplugin")
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", out, "./cmd/rpcplugin")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building the RPC plugin: %v\n%s", err, msg)
	}
	return out
}

// rpcAdder starts the RPC plugin in a child process and returns its Adder.
func rpcAdder(b *testing.B) adder.Adder {
	b.Helper()
	quiet := hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off})
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  adder.Handshake,
		Plugins:          map[string]plugin.Plugin{adder.PluginName: &adder.Plugin{}},
		Cmd:              exec.Command(rpcPlugin(b)),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolNetRPC},
		Logger:           quiet,
	})
	b.Cleanup(client.Kill)
	proto, err := client.Client()
	if err != nil {
		b.Fatal(err)
	}
	raw, err := proto.Dispense(adder.PluginName)
	if err != nil {
		b.Fatal(err)
	}
	return raw.(adder.Adder)
}

// startOpa starts a default opa Manager whose "add" hook is adder.Add, as
// the library's own hook benchmarks do.
func startOpa(b *testing.B) {
	b.Helper()
	defs := opa.Plugin{HookDefinitions: []opa.HookDefinition{{Name: "add", Func: addFn(nil)}}}
	impl := opa.Plugin{Hooks: []opa.Hook{{Name: "add", Func: adder.Add}}}
	m, err := opa.New(opa.WithConfig(opa.Config{DefaultPluginPath: b.TempDir()}),
		opa.WithLogger(slog.New(slog.DiscardHandler)), opa.WithPlugin("defs", defs), opa.WithPlugin("impl", impl))
	if err != nil {
		b.Fatal(err)
	}
	if err := m.StartupSimple(b.Context()); err != nil {
		b.Fatal(err)
	}
	opa.SetDefault(m)
	b.Cleanup(func() { opa.SetDefault(nil) })
}

// BenchmarkRPC calls the same hook, adder.Add, three ways, in turns (see
// runInterleaved): over hashicorp/go-plugin's net/rpc in a child process,
// in process through opa.HookFunc (looked up on every call), and directly.
// The RPC side's CPU time counts this process only: its wall time
// (rpc-ns/call) is the figure to use.
func BenchmarkRPC(b *testing.B) {
	a := rpcAdder(b)
	startOpa(b)
	if sum, err := a.Add(2, 3); err != nil || sum != 5 {
		b.Fatalf("RPC Add(2, 3) = %d, %v", sum, err)
	}
	runInterleaved(b, "call",
		benchSide{"rpc", 20, 20, func(n int) {
			s := 0
			for i := range n {
				sum, err := a.Add(i, 1)
				if err != nil {
					b.Fatal(err)
				}
				s += sum
			}
			sinkInt = s
		}},
		benchSide{"HookFunc", 100_000, 1000, func(n int) {
			s := 0
			for i := range n {
				f, err := opa.HookFunc[addFn]("add")
				if err != nil {
					b.Fatal(err)
				}
				s += f(i, 1)
			}
			sinkInt = s
		}},
		benchSide{"direct", 100_000, 1000, func(n int) {
			s := 0
			for i := range n {
				s += adder.Add(i, 1)
			}
			sinkInt = s
		}})
}
