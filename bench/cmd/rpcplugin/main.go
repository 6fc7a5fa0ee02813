// Command rpcplugin serves adder.Add as a hashicorp/go-plugin net/rpc
// plugin; rpc_test.go starts it as a child process.
package main

import (
	"io"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/opa-stack/opa-go/bench/internal/adder"
)

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: adder.Handshake,
		Plugins:         map[string]plugin.Plugin{adder.PluginName: &adder.Plugin{Impl: adder.Local{}}},
		Logger:          hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off}),
	})
}
