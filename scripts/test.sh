#!/usr/bin/env bash
# The one test command (README): provisions what the tests need on a fresh Debian machine, runs
# every test, and cleans up. Services the tests need are started here, bound to 127.0.0.1 in a
# throwaway directory, and stopped on exit.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh <cargo test filter>  # a subset, e.g. `scripts/test.sh silver`
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# Debian packages the build and the tests need; installed only when missing (needs root).
need_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
      echo "scripts/test.sh: missing packages ${missing[*]}; run as root or install them" >&2
      exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

if command -v dpkg-query >/dev/null 2>&1; then
  need_packages build-essential pkg-config mold
fi

WORK=$(mktemp -d -t datacycle-test.XXXXXX)
cleanup() {
  local code=$?
  rm -rf "$WORK"
  exit $code
}
trap cleanup EXIT INT TERM
export DATACYCLE_TEST_TMP="$WORK"

log "building (release profile: one build serves the tests, the benches and the demo)"
cargo build --release --bins --tests --benches

log "running tests"
cargo test --release --all-targets -- "$@"
