// Package main is the "panicky" fixture plugin: GET /panicky/boom panics
// in its handler, GET /panicky/ok answers.
package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

// Plugin is what the host looks up.
var Plugin = opa.Plugin{Router: router()}

func router() chi.Router {
	r := opa.GetRouter()
	r.Get("/panicky/boom", func(http.ResponseWriter, *http.Request) {
		panic("panicky: kaboom")
	})
	r.Get("/panicky/ok", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("still here"))
	})
	return r
}

func main() {}
