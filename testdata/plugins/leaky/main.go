// Package main is the "leaky" fixture plugin: a driver that, as pgx, lib/pq
// and go-redis do, repeats the connection string it was given in its
// error. OPTS.url is that string; OPTS.fail says how Connect fails:
// "unavailable" (the service is not there, opa.ErrUnavailable) or "auth"
// (authentication failed). A Status that fails repeats it too.
package main

import (
	"context"
	"fmt"

	"github.com/opa-stack/opa-go"
)

type component struct{ url, fail string }

func (c *component) Connect(context.Context) error {
	switch c.fail {
	case "unavailable":
		return fmt.Errorf("dial %s: connection refused: %w", c.url, opa.ErrUnavailable)
	case "auth":
		return fmt.Errorf("connect %s: authentication failed", c.url)
	}
	return nil
}

func (c *component) Status(context.Context) (any, error) {
	return nil, fmt.Errorf("ping %s: i/o timeout", c.url)
}

func (c *component) Instance() any { return c.url }

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	Drivers: []opa.Driver{{Name: "leaky", New: func(opts opa.Options) (opa.Component, error) {
		url, _ := opts["url"].(string)
		fail, _ := opts["fail"].(string)
		return &component{url: url, fail: fail}, nil
	}}},
}
