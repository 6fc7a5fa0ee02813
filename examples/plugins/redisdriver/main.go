// Package main is the "redisdriver" example plugin: a driver for Redis
// (github.com/redis/go-redis/v9). It lets OPTIONAL_COMPONENTS name
// DRIVER: redis, and builds a component whose instance is a *redis.Client.
//
// The driver is a plugin of its own, as the SQLite one is: the plugins that
// use Redis (counter) find the client by component name, and the settings
// say where Redis is and whether the host can do without it (LOAD: auto).
//
// OPTS:
//
//	addr: 127.0.0.1:6379  # host:port
//	password: ""          # optional; opa redacts it in logs, errors and the report
//	db: 0                 # optional database number
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/opa-stack/opa-go"
	"github.com/redis/go-redis/v9"
)

// Plugin is what the host looks up.
var Plugin = opa.Plugin{
	Drivers: []opa.Driver{{Name: "redis", New: newComponent}},
}

// component is one Redis client. New only reads the options; Connect checks
// that the server answers; Close closes the client's connections.
type component struct {
	opts   redis.Options
	client *redis.Client
}

// The compile-time checks that component has the methods opa looks for.
var (
	_ opa.Component = (*component)(nil)
	_ opa.Closer    = (*component)(nil)
)

func newComponent(opts opa.Options) (opa.Component, error) {
	c := &component{opts: redis.Options{
		Addr: "127.0.0.1:6379",
		// Deadlines of a request's context apply to its Redis calls too
		// (go-redis ignores them by default), and ctx in Connect.
		ContextTimeoutEnabled: true,
	}}
	if addr, ok := opts["addr"].(string); ok && addr != "" {
		c.opts.Addr = addr
	}
	if pw, ok := opts["password"].(string); ok {
		c.opts.Password = pw
	}
	if v, ok := opts["db"]; ok {
		db, ok := wholeNumber(v)
		if !ok {
			// Never print an option's value: it could be a secret put
			// under the wrong key. Say what type it has instead.
			return nil, fmt.Errorf("redis: OPTS.db must be a whole number, got a %T", v)
		}
		c.opts.DB = db
	}
	return c, nil
}

// wholeNumber returns v as an int: settings give numbers as int (YAML, TOML,
// OPA_ variables) or float64 (JSON).
func wholeNumber(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), n == float64(int(n))
	}
	return 0, false
}

// Connect sends a PING. A server that is not there (connection refused, a
// host name that does not resolve) is an error wrapping opa.ErrUnavailable,
// so that with LOAD: auto the host starts without Redis. Anything else (a
// wrong password, a timeout) is a plain error and fails Startup. ctx carries
// opa's COMPONENT_TIMEOUT: the PING gives up when it ends.
func (c *component) Connect(ctx context.Context) error {
	// The PING goes through a client that tries once: Startup wants the
	// answer now. The client kept for the handlers retries, as usual.
	probeOpts := c.opts
	probeOpts.DialerRetries, probeOpts.MaxRetries = 1, -1
	probe := redis.NewClient(&probeOpts)
	err := probe.Ping(ctx).Err()
	_ = probe.Close()
	switch {
	case err == nil:
		c.client = redis.NewClient(&c.opts)
		return nil
	case notThere(err):
		return fmt.Errorf("redis at %s: %w: %w", c.opts.Addr, opa.ErrUnavailable, err)
	default:
		return fmt.Errorf("redis at %s: %w", c.opts.Addr, err)
	}
}

// notThere reports whether err means that no Redis server is at the address.
func notThere(err error) bool {
	var dns *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &dns) && dns.IsNotFound)
}

// Instance is the *redis.Client that handlers use.
func (c *component) Instance() any { return c.client }

// Close closes the client at Shutdown.
func (c *component) Close(context.Context) error { return c.client.Close() }

func main() {}
