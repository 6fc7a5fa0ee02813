package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/metrics"
)

// metricsHandler serves opa's metrics (package metrics) and the Go
// runtime's and the process's, in Prometheus's format, on the admin
// listener.
func metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(opa.GetManager), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
