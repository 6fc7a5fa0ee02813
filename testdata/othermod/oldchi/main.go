// Package main is the "oldchi" fixture plugin: built in another module,
// against another version of chi than the host's, so the host must refuse it
// before opening, naming the module and both versions.
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
	r.Get("/oldchi", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("old chi")) })
	return r
}

func main() {}
