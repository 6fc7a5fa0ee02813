// Package main is the "fullname" fixture plugin: the "fullname" hook, Order 1.
package main

import "github.com/opa-stack/opa-go"

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	Hooks: []opa.Hook{{Name: "fullname", Order: 1, Func: func(first, sur string) string { return first + " " + sur }}},
}

func main() {}
