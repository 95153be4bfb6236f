# Shared by scripts/test.sh and scripts/bench.sh: throwaway services on 127.0.0.1, started in
# $WORK and stopped by the caller's cleanup (every started pid is appended to PIDS).
# shellcheck shell=bash

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# Debian packages, installed only when missing (needs root).
need_packages() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
      echo "missing packages ${missing[*]}; run as root or install them" >&2
      exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {
  local port=$1 name=$2
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$name did not start on port $port" >&2
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

# sshd: what tests need to run their own sFTP servers (they start, stop and kill them): a host
# key, a client key, and a user with a password whose logins can only do sFTP.
prepare_sshd() {
  need_packages openssh-server openssh-client
  local dir="$WORK/ssh"
  mkdir -p "$dir" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
  ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -f "$dir/client_key"
  cp "$dir/client_key.pub" "$dir/authorized_keys"
  chmod 755 "$WORK" "$dir"
  chmod 644 "$dir/authorized_keys"
  local user=datacycle-sftp password
  password="pw-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
  id "$user" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$user"
  echo "$user:$password" | chpasswd
  export DATACYCLE_TEST_SSHD
  DATACYCLE_TEST_SSHD=$(command -v sshd || echo /usr/sbin/sshd)
  export DATACYCLE_TEST_SSH_DIR="$dir" DATACYCLE_TEST_SSH_USER="$user" DATACYCLE_TEST_SSH_PASSWORD="$password"
  log "sshd ready for tests ($DATACYCLE_TEST_SSHD, user $user)"
}

# One sshd serving sFTP on a free port (for the benchmark); sets SSHD_PORT.
start_sshd() {
  SSHD_PORT=$(free_port)
  cat >"$WORK/ssh/sshd_config" <<CONF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $DATACYCLE_TEST_SSH_DIR/host_key
PidFile $WORK/ssh/sshd.pid
AuthorizedKeysFile $DATACYCLE_TEST_SSH_DIR/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication yes
PubkeyAuthentication yes
AllowUsers $DATACYCLE_TEST_SSH_USER
Subsystem sftp internal-sftp
ForceCommand internal-sftp
LogLevel ERROR
CONF
  "$DATACYCLE_TEST_SSHD" -D -e -f "$WORK/ssh/sshd_config" 2>>"$WORK/ssh/sshd.log" &
  PIDS+=($!)
  wait_for_port "$SSHD_PORT" "sshd"
}
