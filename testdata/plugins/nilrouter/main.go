// Package main is the "nilrouter" fixture plugin: its Router is a typed nil
// (*chi.Mux)(nil), a mistake that passes a `Router == nil` check.
package main

import (
	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

var mux *chi.Mux

// Plugin is what the host looks up.
var Plugin = opa.Plugin{Router: mux}

func main() {}
