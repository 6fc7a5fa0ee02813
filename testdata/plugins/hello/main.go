// Package main is the "hello" fixture plugin: one route, one setup.
package main

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	Router: router(),
	Setups: []opa.Setup{func(_ context.Context, r chi.Router) error {
		r.Get("/hello/setup", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("added by a setup"))
		})
		return nil
	}},
}

func router() chi.Router {
	r := opa.GetRouter()
	r.Get("/hello", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("hello from a plugin"))
	})
	return r
}

func main() {}
