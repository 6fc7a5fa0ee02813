#!/usr/bin/env bash
# make bench: runs every benchmark of opa-go and prints one table of figures,
# baselines, ratios and targets (see ../BENCHMARKS.md). It builds what it
# needs into bench/build/ (a fresh clone needs nothing else than Go, a C
# compiler and the Go module proxy), and takes a few minutes on 2 cores.
#
#   bash bench/run.sh             # the full run
#   bash bench/run.sh -quick      # one short round, to check that it all runs
#   bash bench/run.sh -rounds 9   # more rounds (see -help)
#
# It exits non-zero only when something fails to build or run, never for a
# missed target.
set -euo pipefail
cd "$(dirname "$0")"
export CGO_ENABLED=1 # Go plugins need cgo
go build -buildvcs=false -o build/opabench ./cmd/opabench
exec build/opabench "$@"
