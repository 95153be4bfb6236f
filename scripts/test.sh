#!/usr/bin/env bash
# The one test command (README): provisions what the tests need on a fresh Debian machine, runs
# every test, and cleans up. Services the tests need are started here, bound to 127.0.0.1 in a
# throwaway directory, and stopped on exit.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh <cargo test filter>  # a subset, e.g. `scripts/test.sh silver`
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/services.sh
source scripts/lib/services.sh
need_packages build-essential pkg-config mold libssl-dev

WORK=$(mktemp -d -t datacycle-test.XXXXXX)
PIDS=()
cleanup() {
  local code=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  remove_sftp_user
  rm -rf "$WORK"
  exit $code
}
trap cleanup EXIT INT TERM
export DATACYCLE_TEST_TMP="$WORK"

start_s3
prepare_sshd
start_mariadb
start_postgres

log "building (release profile: one build serves the tests, the benches and the demo)"
cargo build --release --bins --tests --benches
load_reference_seed

log "running tests"
cargo test --release --all-targets -- "$@"
