// Package main is the "badbind" fixture plugin: a driver whose component
// panics in BindManager.
package main

import (
	"context"

	"github.com/opa-stack/opa-go"
)

type component struct{}

func (*component) BindManager(*opa.Manager)      { panic("badbind: BindManager blew up") }
func (*component) Connect(context.Context) error { return nil }
func (*component) Instance() any                 { return nil }

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	Drivers: []opa.Driver{{Name: "badbind", New: func(opa.Options) (opa.Component, error) { return &component{}, nil }}},
}

func main() {}
