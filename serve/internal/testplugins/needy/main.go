// Package main is a test plugin that defines a required hook no plugin
// provides: Startup fails with it.
package main

import "github.com/opa-stack/opa-go"

// Plugin requires the hook "auth".
var Plugin = opa.Plugin{HookDefinitions: []opa.HookDefinition{{Name: "auth", Required: true, Func: (func() bool)(nil)}}}

func main() {}
