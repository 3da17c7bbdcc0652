#!/usr/bin/env bash
# btrun jobs / btrun worker parse their options with the shared parser (cli/cli_opts):
# an unknown option names the closest known one, a missing value and a stray argument
# are usage errors (exit 1, message and hint on stderr), --help prints the usage (exit 0).
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"

# usage_err PATTERN ARGS...: exit 1 and PATTERN on stderr.
run() {
  set +e
  "$BTRUN" "$@" >"$T/out.log" 2>"$T/err.log"
  RC=$?
  set -e
  no_sanitizer_report "$@"
}
usage_err() {
  local pattern="$1"; shift
  run "$@"
  eq "$RC" 1 "btrun $*: exit code"
  has "$T/err.log" "$pattern" "btrun $*: message"
}

usage_err "btrun jobs: unknown option --limt; did you mean '--limit'\?" jobs list --limt 5
usage_err "btrun jobs: unknown option --bogus$" jobs list --bogus
usage_err "btrun jobs: missing value for --limit" jobs list --limit
usage_err "btrun jobs: unexpected argument b" jobs show a b
usage_err "Try 'btrun jobs --help'" jobs show a b
usage_err "btrun worker: unknown option --concurency; did you mean '--concurrency'\?" \
  worker --concurency 2
usage_err "btrun worker: unexpected argument extra" worker extra
usage_err "btrun worker: missing value for --db" worker --db
run jobs list --help
eq "$RC" 0 "jobs --help: exit code"
has "$T/out.log" "usage: btrun jobs" "jobs --help prints the usage"
run worker -h
eq "$RC" 0 "worker -h: exit code"
has "$T/out.log" "usage: btrun worker" "worker -h prints the usage"
ok "jobs and worker options"
