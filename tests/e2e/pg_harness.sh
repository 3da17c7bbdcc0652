#!/usr/bin/env bash
# tests/tools/pg.sh: a throwaway cluster per test, non-root, loopback only, password over
# TCP, gone when its owner dies; skip outside CI only, failure under CI.
set -euo pipefail
source "$BTRUN_SRC/tests/tools/pg.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
trap pg_stop EXIT

rc=0; PG_BINDIR=/nonexistent CI= bash "$PG_SH" start >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 77 ] || fail "no server outside CI: exit $rc, want 77 (skip)"
rc=0; PG_BINDIR=/nonexistent CI=true bash "$PG_SH" start >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "no server under CI=true: exit $rc, want 1 (failure)"

pg_start
[ "$(psql "$PG_URL" -qAtc 'select 40+2')" = 42 ] || fail "query over TCP with the password"
psql "postgresql://postgres:wrong@127.0.0.1:$PG_PORT/btrun" -qAtc 'select 1' >/dev/null 2>&1 &&
  fail "a wrong password was accepted"
[ "$(pg_sql -c 'show listen_addresses')" = 127.0.0.1 ] || fail "listens beyond loopback"
[ "$(pg_sql -c 'show unix_socket_directories')" = "$PG_DIR" ] || fail "socket outside its dir"
owner=$(stat -c %u "$PG_DIR/data")
[ "$owner" -ne 0 ] || fail "data dir owned by root"
pid=$(head -1 "$PG_DIR/data/postmaster.pid")
[ "$(stat -c %u "/proc/$pid")" = "$owner" ] || fail "server not running as the data dir's owner"

# A second cluster at the same time is independent.
out=$(bash "$PG_SH" start --owner-pid $$)
dir2=$(sed -n 's/^PG_DIR=//p' <<<"$out")
url2=$(sed -n 's/^PG_URL=//p' <<<"$out")
[ "$dir2" != "$PG_DIR" ] || fail "two tests share a cluster"
psql "$url2" -qc 'create table only_here(x int)'
[ "$(pg_sql -c "select count(*) from pg_tables where tablename='only_here'")" = 0 ] ||
  fail "clusters not isolated"
bash "$PG_SH" stop "$dir2"
[ ! -e "$dir2" ] || fail "stop left $dir2"

# Restart keeps the data; the watchdog removes a cluster whose owner was killed -9.
pg_sql -c 'create table kept(x int); insert into kept values (7)'
bash "$PG_SH" restart "$PG_DIR"
[ "$(psql "$PG_URL" -qAtc 'select x from kept')" = 7 ] || fail "restart lost data"
bash -c 'out=$(bash "$1" start --owner-pid $$); sed -n "s/^PG_DIR=//p" <<<"$out" > "$2"; exec sleep 60' \
  _ "$PG_SH" "$PG_DIR/orphan" &
owner_pid=$!
for _ in $(seq 100); do [ -s "$PG_DIR/orphan" ] && break; sleep 0.1; done
dir3=$(cat "$PG_DIR/orphan")
[ -d "$dir3/data" ] || fail "orphan cluster did not start"
kill -9 "$owner_pid"
for _ in $(seq 100); do [ -e "$dir3" ] || break; sleep 0.1; done
[ ! -e "$dir3" ] || fail "cluster of a killed owner still there"
echo "ok: pg harness"
