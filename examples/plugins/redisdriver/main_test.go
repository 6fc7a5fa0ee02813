package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/internal/testenv"
)

// connect builds a component for addr and connects it with ctx.
func connect(t *testing.T, ctx context.Context, addr string) error {
	t.Helper()
	c, err := newComponent(opa.Options{"addr": addr})
	if err != nil {
		t.Fatal(err)
	}
	if err = c.Connect(ctx); err == nil {
		t.Cleanup(func() { _ = c.(*component).Close(context.Background()) })
	}
	return err
}

func TestConnectRefusedIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	err = connect(t, context.Background(), addr)
	if !errors.Is(err, opa.ErrUnavailable) {
		t.Fatalf("Connect to a closed port: %v, want an error wrapping opa.ErrUnavailable", err)
	}
}

func TestConnectNoSuchHostIsUnavailable(t *testing.T) {
	err := connect(t, context.Background(), "no-such-host.invalid:6379")
	var dns *net.DNSError
	if errors.As(err, &dns) && !dns.IsNotFound {
		testenv.Missing(t, fmt.Sprintf("a DNS resolver that answers (%v), to tell a missing host", err),
			"point /etc/resolv.conf at a resolver that answers NXDOMAIN for no-such-host.invalid")
	}
	if !errors.Is(err, opa.ErrUnavailable) {
		t.Fatalf("Connect to a host that does not resolve: %v, want an error wrapping opa.ErrUnavailable", err)
	}
}

func TestConnectHonoursContext(t *testing.T) {
	// A server that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()

	c, err := newComponent(opa.Options{"addr": ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	// No timeouts of go-redis's own: only ctx can end the PING.
	c.(*component).opts.ReadTimeout, c.(*component).opts.WriteTimeout = -1, -1
	// opa gives Connect a context with a deadline (COMPONENT_TIMEOUT).
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Connect(ctx) }()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, opa.ErrUnavailable) {
			t.Fatalf("Connect to a silent server: %v, want an error that is not opa.ErrUnavailable", err)
		}
	case <-time.After(time.Minute): // a guard, not a measure: without ctx, Connect never returns
		t.Fatal("Connect did not return after its context's deadline")
	}
}

func TestNewRefusesABadDBWithoutShowingIt(t *testing.T) {
	_, err := newComponent(opa.Options{"db": "hunter2-not-a-number"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("New with db set to a string: %v, want an error that does not quote the value", err)
	}
}
