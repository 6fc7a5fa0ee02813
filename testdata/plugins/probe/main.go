// Package main is the "probe" fixture plugin: it records what the
// package-level functions answer inside a component's Connect and inside a
// Setup, and serves the record at GET /probe. Its components print
// "probe: closed NAME" to stderr when closed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
	"github.com/opa-stack/opa-go"
)

var record struct {
	sync.Mutex
	lines []string
}

func note(format string, args ...any) {
	record.Lock()
	defer record.Unlock()
	record.lines = append(record.lines, fmt.Sprintf(format, args...))
}

// errText is err's text, or "ok".
func errText(err error) string {
	if err == nil {
		return "ok"
	}
	if errors.Is(err, opa.ErrState) {
		return "ErrState: " + err.Error()
	}
	return err.Error()
}

type component struct {
	name string
	m    *opa.Manager
}

func (c *component) BindManager(m *opa.Manager) { c.m = m }

func (c *component) Connect(context.Context) error {
	note("connect %s: GetManager is the manager being started: %v", c.name, c.m != nil && opa.GetManager() == c.m)
	out, err := opa.CallHook("probe.echo", "from connect")
	note("connect %s: CallHook: %v %s", c.name, out, errText(err))
	_, err = opa.GetComponent(c.name)
	note("connect %s: GetComponent: %s", c.name, errText(err))
	return nil
}

func (c *component) Instance() any { return "instance of " + c.name }

func (c *component) Close(context.Context) error {
	fmt.Fprintf(os.Stderr, "probe: closed %s\n", c.name)
	return nil
}

func setup(ctx context.Context, r chi.Router) error {
	note("setup: GetManager is the manager being started: %v", opa.GetManager() != nil && opa.GetManager() == opa.ManagerFrom(ctx))
	out, err := opa.CallHook("probe.echo", "from setup")
	note("setup: CallHook: %v %s", out, errText(err))
	inst, err := opa.GetInstance("probe")
	note("setup: GetInstance: %v %s", inst, errText(err))
	r.Get("/probe", func(w http.ResponseWriter, _ *http.Request) {
		record.Lock()
		defer record.Unlock()
		_, _ = io.WriteString(w, strings.Join(record.lines, "\n"))
	})
	return nil
}

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	HookDefinitions: []opa.HookDefinition{{Name: "probe.echo", Func: (func(string) string)(nil)}},
	Hooks:           []opa.Hook{{Name: "probe.echo", Func: func(s string) string { return "echo " + s }}},
	Drivers: []opa.Driver{{Name: "probe", New: func(opts opa.Options) (opa.Component, error) {
		name, _ := opts["name"].(string)
		return &component{name: name}, nil
	}}},
	Setups: []opa.Setup{setup},
}

func main() {}
