#!/bin/sh
# A drop-in for the official postgres image's entrypoint, for machines that
# cannot reach an image registry: honours POSTGRES_PASSWORD, POSTGRES_USER,
# POSTGRES_DB (and POSTGRES_HOST_AUTH_METHOD=trust), initialises PGDATA on
# first start, listens on 5432 with password (scram-sha-256) auth, and runs
# the server as the postgres user, never root.
set -eu

if [ "${1:-postgres}" = postgres ]; then
	[ $# -gt 0 ] && shift
elif [ "${1#-}" = "$1" ]; then
	exec "$@" # not a server flag: run the given command (e.g. psql)
fi

PGDATA=${PGDATA:-/var/lib/postgresql/data}
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
AUTH=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
asuser() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
chmod 2775 /var/run/postgresql

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$AUTH" != trust ]; then
		echo "error: POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
		exit 1
	fi
	pwfile=$(mktemp)
	printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
	chown postgres "$pwfile"
	asuser initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
		--auth-local=trust --auth-host="$AUTH" -E UTF8 --locale=C.UTF-8 >/dev/null
	rm -f "$pwfile"
	printf "host all all all %s\n" "$AUTH" >>"$PGDATA/pg_hba.conf"
	printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	if [ "$POSTGRES_DB" != postgres ]; then
		asuser pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
		asuser psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres -q \
			-c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
		asuser pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	fi
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" "$@"
