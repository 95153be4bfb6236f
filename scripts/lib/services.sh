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

# The release binary, wherever cargo puts it (CARGO_TARGET_DIR is honoured).
datacycle_bin() {
  echo "${CARGO_TARGET_DIR:-target}/release/datacycle"
}

# python3 with pip, venv and moto: Debian's python3 refuses `pip install` outside a venv (PEP
# 668), so moto lives in a venv of its own, kept between runs under the user's cache.
need_python() {
  command -v python3 >/dev/null 2>&1 || need_packages python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || need_packages python3-venv python3-pip
}

moto_python() {
  local venv="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/datacycle/moto-venv"
  if ! "$venv/bin/python" -c 'import moto.server, boto3' 2>/dev/null; then
    log "installing moto (S3-compatible test server) into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'moto[server]' >&2
  fi
  echo "$venv/bin/python"
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
  need_python
  local port python
  python=$(moto_python)
  port=$(free_port)
  "$python" -m moto.server -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
  PIDS+=($!)
  wait_for_port "$port" "the S3 server (moto)"
  "$python" - "$port" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
             aws_access_key_id="datacycle", aws_secret_access_key="x").create_bucket(Bucket="datacycle-test")
PY
  export DATACYCLE_TEST_S3_ENDPOINT="http://127.0.0.1:$port" DATACYCLE_TEST_S3_BUCKET=datacycle-test
  log "S3 (moto) on 127.0.0.1:$port"
}

# sshd: what tests need to run their own sFTP servers (they start, stop and kill them): a host
# key, a client key, and a user with a password whose logins can only do sFTP. The user is
# removed again by remove_sftp_user (the caller's cleanup), so no login is left behind.
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
  SFTP_USER_CREATED=$user
  echo "$user:$password" | chpasswd
  export DATACYCLE_TEST_SSHD
  DATACYCLE_TEST_SSHD=$(command -v sshd || echo /usr/sbin/sshd)
  export DATACYCLE_TEST_SSH_DIR="$dir" DATACYCLE_TEST_SSH_USER="$user" DATACYCLE_TEST_SSH_PASSWORD="$password"
  log "sshd ready for tests ($DATACYCLE_TEST_SSHD, user $user)"
}

remove_sftp_user() {
  if [[ -n ${SFTP_USER_CREATED:-} ]]; then
    userdel "$SFTP_USER_CREATED" 2>/dev/null || true
  fi
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

# MariaDB: a throwaway server on a free port with its data in $WORK/mariadb. Tests connect with
# DATACYCLE_TEST_MYSQL_ADMIN_URL (all privileges) to create their own databases and users.
start_mariadb() {
  need_packages mariadb-server mariadb-client
  local dir="$WORK/mariadb" port password
  mkdir -p "$dir/data" "$dir/tmp"
  port=$(free_port)
  mariadb-install-db --no-defaults --user=root --datadir="$dir/data" --skip-test-db \
    --auth-root-authentication-method=socket >"$dir/install.log" 2>&1 \
    || { cat "$dir/install.log" >&2; exit 1; }
  mariadbd --no-defaults --user=root --datadir="$dir/data" --tmpdir="$dir/tmp" \
    --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --bind-address=127.0.0.1 \
    --port="$port" --skip-log-bin --innodb-buffer-pool-size=64M --log-error="$dir/error.log" &
  PIDS+=($!)
  wait_for_port "$port" "MariaDB"
  password="pw-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
  mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot <<SQL
CREATE USER 'datacycle_admin'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO 'datacycle_admin'@'127.0.0.1' WITH GRANT OPTION;
SQL
  export DATACYCLE_TEST_MYSQL_ADMIN_URL="mysql://datacycle_admin:$password@127.0.0.1:$port"
  MARIADB_SOCKET="$dir/mysqld.sock" MARIADB_PORT=$port
  log "MariaDB on 127.0.0.1:$port"
}

# The generator's reference database loaded into MariaDB as `pidb`, and a user that may read only
# the imported tables (those the generator exports as CSV): any query on another table fails.
# Needs start_mariadb and the built binary.
load_reference_seed() {
  local seed="$WORK/reference-seed" password table grants=""
  "$(datacycle_bin)" generate --out "$seed" --days 2 --format json >/dev/null
  mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot -e 'CREATE DATABASE pidb CHARACTER SET utf8mb4'
  mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot pidb <"$seed/mysql/seed.sql"
  password="pw-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
  for csv in "$seed"/mysql/*.csv; do
    table=$(basename "$csv" .csv)
    grants+="GRANT SELECT ON pidb.\`$table\` TO 'datacycle_reader'@'127.0.0.1';"$'\n'
  done
  mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot <<SQL
CREATE USER 'datacycle_reader'@'127.0.0.1' IDENTIFIED BY '$password';
$grants
SQL
  export DATACYCLE_TEST_MYSQL_URL="mysql://datacycle_reader:$password@127.0.0.1:$MARIADB_PORT/pidb"
  export DATACYCLE_TEST_MYSQL_SEED="$seed/mysql"
  log "reference seed loaded into pidb; datacycle_reader may read $(ls "$seed"/mysql/*.csv | wc -l) tables"
}

# A throwaway PostgreSQL: initdb in a temp dir (run as the `postgres` system user, which the
# package creates), a free port on 127.0.0.1 only, scram-sha-256 password authentication for
# 127.0.0.1 only (as in production, so password handling is exercised). Exports
# DATACYCLE_TEST_PG_ADMIN_URL (superuser, with its generated password) and DATACYCLE_TEST_PG_PORT.
start_postgres() {
  need_packages postgresql
  local bin dir="$WORK/postgres" port password
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  port=$(free_port)
  password="pw-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
  mkdir -p "$dir"
  chown postgres "$dir"
  chmod o+x "$WORK"
  printf '%s\n' "$password" >"$dir/pwfile"
  chown postgres "$dir/pwfile"
  chmod 600 "$dir/pwfile"
  runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres --auth=reject \
    --auth-host=scram-sha-256 --pwfile="$dir/pwfile" --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  # Passwords (SCRAM) only for TCP from 127.0.0.1; everything else is rejected.
  printf 'host all all 127.0.0.1/32 scram-sha-256\n' >"$dir/data/pg_hba.conf"
  runuser -u postgres -- "$bin/postgres" -D "$dir/data" -p "$port" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$dir" -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off >"$dir/server.log" 2>&1 &
  PIDS+=($!)
  wait_for_port "$port" "PostgreSQL"
  # runuser need not pass SIGTERM on: stop the server itself too.
  PIDS+=("$(head -1 "$dir/data/postmaster.pid")")
  export DATACYCLE_TEST_PG_ADMIN_URL="postgresql://postgres:$password@127.0.0.1:$port/postgres"
  export DATACYCLE_TEST_PG_PORT=$port
  log "PostgreSQL on 127.0.0.1:$port"
}
