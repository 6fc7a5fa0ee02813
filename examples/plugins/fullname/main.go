// Package main is the "fullname" example plugin: it provides the "fullname"
// hook that the greeter plugin defines. Another plugin with a higher Order
// would win over it.
package main

import "github.com/opa-stack/opa-go"

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	Hooks: []opa.Hook{{
		Name:  "fullname",
		Order: 1,
		Func:  func(first, sur string) string { return first + " " + sur },
	}},
}

func main() {}
