// Package main is a test plugin with a driver, "down", whose component is
// never there: its Connect fails as an unreachable server does
// (opa.ErrUnavailable). With LOAD: yes, Startup fails.
package main

import (
	"context"
	"fmt"

	"github.com/opa-stack/opa-go"
)

// Plugin provides the driver "down".
var Plugin = opa.Plugin{Drivers: []opa.Driver{{Name: "down", New: func(opa.Options) (opa.Component, error) { return down{}, nil }}}}

type down struct{}

func (down) Connect(context.Context) error {
	return fmt.Errorf("down: nothing answers at 127.0.0.1:1: %w", opa.ErrUnavailable)
}

func (down) Instance() any { return nil }

func main() {}
