// Package main is the "greeter" example plugin. It defines the hook
// "fullname", which some loaded plugin must provide (Required), and serves
// GET /get-fullname/{first}/{sur}, which calls whichever hook won.
package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

// FullnameFunc is the type every "fullname" hook must have. An alias keeps
// plain func literals acceptable as hooks.
type FullnameFunc = func(first, sur string) string

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	HookDefinitions: []opa.HookDefinition{{
		Name:     "fullname",
		Required: true,              // Startup fails if no plugin provides it
		Func:     FullnameFunc(nil), // hooks of another type are refused
	}},
	Router: router(),
}

func router() chi.Router {
	r := opa.GetRouter()
	r.Get("/get-fullname/{first}/{sur}", func(w http.ResponseWriter, req *http.Request) {
		// HookFunc returns the winning hook as a plain func: calling it
		// costs what a direct call costs.
		fullname, err := opa.HookFunc[FullnameFunc]("fullname")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("Hello " + fullname(chi.URLParam(req, "first"), chi.URLParam(req, "sur")) + "\n"))
	})
	return r
}

func main() {}
