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
PIDS=()
cleanup() {
  local code=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
  exit $code
}
trap cleanup EXIT INT TERM
export DATACYCLE_TEST_TMP="$WORK"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {
  local port=$1 name=$2
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "scripts/test.sh: $name did not start on port $port" >&2
  exit 1
}

# S3: moto's server on loopback, with the test bucket.
start_s3() {
  python3 -c 'import moto.server, boto3' 2>/dev/null || {
    log "installing moto (S3-compatible test server)"
    python3 -m pip install --quiet 'moto[server]'
  }
  local port
  port=$(free_port)
  python3 -m moto.server -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
  PIDS+=($!)
  wait_for_port "$port" "the S3 server (moto)"
  python3 - "$port" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
             aws_access_key_id="datacycle", aws_secret_access_key="x").create_bucket(Bucket="datacycle-test")
PY
  export DATACYCLE_TEST_S3_ENDPOINT="http://127.0.0.1:$port" DATACYCLE_TEST_S3_BUCKET=datacycle-test
  log "S3 (moto) on 127.0.0.1:$port"
}

start_s3

log "building (release profile: one build serves the tests, the benches and the demo)"
cargo build --release --bins --tests --benches

log "running tests"
cargo test --release --all-targets -- "$@"
