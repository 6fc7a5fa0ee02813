#!/bin/sh
# run.sh: what `make run` runs, after `make examples`. It starts the example
# worker in the background and the example host, and stops both when the
# host stops or this script gets SIGINT (Ctrl-C) or SIGTERM, waiting for
# them to finish what they are doing (requests, jobs): no worker is left
# behind. Both use the settings in settings/ and one data directory, where
# the SQLite files are.
#
# Environment: ADDR (127.0.0.1:8080), BUILD_DIR (build), DATA_DIR
# (BUILD_DIR/data), and whatever the host and worker read (OPA_...).
set -u
cd "$(dirname "$0")"
build=${BUILD_DIR:-$PWD/build}
data=${DATA_DIR:-$build/data}
export OPA_PLUGIN_PATHS="${OPA_PLUGIN_PATHS:-$build/plugins}"

"$build/worker" -settings "$PWD/settings" -data "$data" &
worker=$!
"$build/host" -addr "${ADDR:-127.0.0.1:8080}" -settings "$PWD/settings" -data "$data" &
host=$!

trap 'kill -TERM $host $worker 2>/dev/null' INT TERM
wait $host # returns when the host exits, or at once when a signal ran the trap
status=$?
kill -TERM $worker 2>/dev/null # the host stopped by itself (or failed to start)
wait
exit $status
