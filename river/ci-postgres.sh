#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the river tests: a fresh cluster in
# a temp dir, owned by the postgres user (no system service), listening on a
# free port on 127.0.0.1 only, with a role and a database for the tests.
#
#   pg_env=$(bash river/ci-postgres.sh)   # start it (fails the caller's set -e if it fails)
#   eval "$pg_env"                        # exports OPA_TEST_POSTGRES_URL
#   bash river/ci-postgres.sh stop        # stop it and delete its files
#
# (A bare eval "$(bash river/ci-postgres.sh)" hides a failure from set -e.)
# Only the export line goes to stdout; progress goes to stderr. The URL is
# also written to $OPA_CI_POSTGRES_DIR/url (the state file names that dir).
# PostgreSQL is installed from Debian's packages (apt-get install
# postgresql) when no initdb is found; that needs root.
#
# One cluster per state file: a second start while the first cluster of the
# same state file still runs refuses (exit 1) and leaves it running, for
# someone may be using it; stop it first, or give the second its own
# OPA_CI_POSTGRES_STATE. A state file whose cluster no longer runs (a
# machine restarted, say) is cleaned up, its files deleted, and the start
# goes on.
set -euo pipefail

STATE=${OPA_CI_POSTGRES_STATE:-/tmp/opa-ci-postgres.state}

log() { echo "ci-postgres: $*" >&2; }

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# as_pg runs a command as the cluster's owner: postgres when we are root.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

if [ "${1:-start}" = stop ]; then
	[ -f "$STATE" ] || { log "nothing to stop ($STATE is missing)"; exit 0; }
	. "$STATE"
	as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >&2 || true
	rm -rf "$PGDIR" "$STATE"
	log "stopped"
	exit 0
fi

if [ -f "$STATE" ]; then
	(
		. "$STATE"
		rc=0
		as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1 || rc=$?
		case $rc in
		3 | 4) # not running; no data directory
			log "the cluster of $STATE no longer runs: deleting its files ($PGDIR)"
			rm -rf "$PGDIR"
			;;
		*)
			log "a cluster of an earlier start still runs ($PGDIR, state file $STATE): stop it first (bash $0 stop), or give this start another OPA_CI_POSTGRES_STATE"
			exit 1
			;;
		esac
	)
	rm -f "$STATE"
fi

PGBIN=$(pgbin)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
	[ "$(id -u)" = 0 ] || { log "PostgreSQL is not installed, and installing it needs root"; exit 1; }
	log "installing postgresql from the system packages"
	# Make no cluster of the system's own: the package would start one as a service.
	if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
		mkdir -p /etc/postgresql-common
		echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq postgresql >&2
	PGBIN=$(pgbin)
	[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || { log "initdb not found after installing postgresql"; exit 1; }
fi

# A port nobody listens on, in 20000-39999.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=
for _ in $(seq 1 50); do
	p=$((20000 + RANDOM % 20000))
	if port_free "$p"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { log "no free port found"; exit 1; }

PGDIR=$(mktemp -d /tmp/opa-ci-postgres.XXXXXX)
chmod 755 "$PGDIR"
SUPERPW=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
TESTPW=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$SUPERPW" >"$PGDIR/superpw"
chmod 600 "$PGDIR/superpw"
[ "$(id -u)" = 0 ] && chown -R postgres: "$PGDIR"

log "initdb in $PGDIR/data ($PGBIN)"
as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --pwfile="$PGDIR/superpw" \
	--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PGDIR/initdb.log" 2>&1 ||
	{ cat "$PGDIR/initdb.log" >&2; exit 1; }

log "starting on 127.0.0.1:$PORT"
# A throwaway server: durability off, for speed.
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 start \
	-o "-p $PORT -c listen_addresses=127.0.0.1 -k $PGDIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2 ||
	{ cat "$PGDIR/server.log" >&2; exit 1; }
printf 'PGBIN=%q\nPGDIR=%q\n' "$PGBIN" "$PGDIR" >"$STATE"

as_pg "$PGBIN/psql" -h "$PGDIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
	-c "CREATE ROLE opa LOGIN CREATEDB PASSWORD '$TESTPW'" \
	-c "CREATE DATABASE opa_test OWNER opa" >&2

URL="postgres://opa:$TESTPW@127.0.0.1:$PORT/opa_test?sslmode=disable"
printf '%s\n' "$URL" >"$PGDIR/url"
chmod 600 "$PGDIR/url"
log "ready: postgres://opa:***@127.0.0.1:$PORT/opa_test (stop with: bash $0 stop)"
echo "export OPA_TEST_POSTGRES_URL='$URL'"
