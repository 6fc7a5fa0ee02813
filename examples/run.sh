#!/bin/sh
# run.sh: what `make run` runs, after `make examples`. It starts the example
# worker in the background and the example host, and stops both when the
# host stops or this script gets SIGINT (Ctrl-C) or SIGTERM, waiting for
# them to finish what they are doing (requests, jobs): no worker is left
# behind. Both use the settings in settings/ and one data directory, where
# the SQLite files are.
#
# Both reload on SIGHUP: `kill -HUP $(cat build/host.pid)` starts a new host
# that takes over once its plugins loaded, and the old one drains and exits
# (see the README, "Deploying and reloading plugins"). This script follows
# the PID files, so it keeps running across reloads.
#
# Environment: ADDR (127.0.0.1:8080), ADMIN_ADDR (the host's admin listener,
# with /metrics: none when unset; make run sets 127.0.0.1:8081), BUILD_DIR (build), DATA_DIR
# (BUILD_DIR/data), and whatever the host and worker read (OPA_...).
set -u
cd "$(dirname "$0")"
build=${BUILD_DIR:-$PWD/build}
data=${DATA_DIR:-$build/data}
export OPA_PLUGIN_PATHS="${OPA_PLUGIN_PATHS:-$build/plugins}"
hostpid=$build/host.pid
workerpid=$build/worker.pid
rm -f "$hostpid" "$workerpid"
echo "plugins: $OPA_PLUGIN_PATHS"
echo "host pid file: $hostpid (opa add --pidfile; kill -HUP reloads)"
echo "worker pid file: $workerpid"

"$build/worker" -settings "$PWD/settings" -data "$data" -pidfile "$workerpid" &
worker=$!
"$build/host" -addr "${ADDR:-127.0.0.1:8080}" -admin "${ADMIN_ADDR:-}" -settings "$PWD/settings" -data "$data" -pidfile "$hostpid" &
host=$!

# current FILE PID: the process that FILE names (the one serving after
# reloads), else PID.
current() { cat "$1" 2>/dev/null || echo "$2"; }
trap 'kill -TERM $(current "$hostpid" $host) $host $(current "$workerpid" $worker) $worker 2>/dev/null' INT TERM
wait $host # returns when the host exits, or at once when a signal ran the trap
status=$?
# A reload replaced the host: follow the PID file until the host that
# serves exits (it is not this script's child: no wait).
while :; do
	next=$(current "$hostpid" $host)
	{ [ "$next" != "$host" ] && kill -0 "$next" 2>/dev/null; } || break
	host=$next status=0
	while kill -0 "$host" 2>/dev/null; do sleep 0.2; done
done
# The host stopped by itself (or failed to start), or a signal stopped it.
w=$(current "$workerpid" $worker)
kill -TERM $w $worker 2>/dev/null
wait
while kill -0 "$w" 2>/dev/null; do sleep 0.2; done
exit $status
