// Package adder is the hook of the in-process against net/rpc comparison:
// Add, served by a hashicorp/go-plugin plugin in a child process
// (cmd/rpcplugin) and called in process through opa.
package adder

import (
	"net/rpc"

	"github.com/hashicorp/go-plugin"
)

// Add is the hook: the cheapest there is, so that the cost of the call is
// what is measured. It is not inlined, as a hook in a .so file cannot be.
//
//go:noinline
func Add(a, b int) int { return a + b }

// Adder is the interface the RPC plugin serves.
type Adder interface {
	Add(a, b int) (int, error)
}

// Handshake is shared by the host and the plugin.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "OPA_BENCH_RPC_PLUGIN",
	MagicCookieValue: "adder",
}

// PluginName is the name the plugin is served and dispensed under.
const PluginName = "adder"

// Plugin is the go-plugin net/rpc plugin of an Adder.
type Plugin struct{ Impl Adder }

// Server returns the RPC server of the plugin side.
func (p *Plugin) Server(*plugin.MuxBroker) (any, error) { return &RPCServer{Impl: p.Impl}, nil }

// Client returns the Adder of the host side.
func (*Plugin) Client(_ *plugin.MuxBroker, c *rpc.Client) (any, error) {
	return &RPCClient{client: c}, nil
}

// Args are the arguments of Add over RPC.
type Args struct{ A, B int }

// RPCClient calls Add in the plugin process.
type RPCClient struct{ client *rpc.Client }

// Add calls the plugin's Add.
func (c *RPCClient) Add(a, b int) (int, error) {
	var sum int
	err := c.client.Call("Plugin.Add", Args{a, b}, &sum)
	return sum, err
}

// RPCServer serves an Adder.
type RPCServer struct{ Impl Adder }

// Add serves Add.
func (s *RPCServer) Add(args Args, sum *int) error {
	var err error
	*sum, err = s.Impl.Add(args.A, args.B)
	return err
}

// Local is Add as an Adder.
type Local struct{}

// Add calls Add.
func (Local) Add(a, b int) (int, error) { return Add(a, b), nil }
