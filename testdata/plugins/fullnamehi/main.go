// Package main is the "fullnamehi" fixture plugin: the "fullname" hook with a
// higher Order, so it wins over "fullname".
package main

import (
	"strings"

	"github.com/opa-stack/opa-go"
)

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	Hooks: []opa.Hook{{Name: "fullname", Order: 2, Func: func(first, sur string) string {
		return strings.ToUpper(first + " " + sur)
	}}},
}

func main() {}
