#!/usr/bin/env bash
# End-to-end benchmark on generated data: prints one line per stage with wall time, throughput
# and peak RSS. The data set is generated once and cached under target/bench-data.
#
#   scripts/bench.sh                      # 70 days x 2 apartments (~200k sensor files)
#   DAYS=7 APARTMENTS=2 scripts/bench.sh  # a quicker run
#   BIN=/path/to/old/datacycle scripts/bench.sh  # another binary (paired before/after runs)
#   SENSORS_ONLY=1 scripts/bench.sh       # stop after the sensor path and its ticks
set -euo pipefail
cd "$(dirname "$0")/.."

DAYS=${DAYS:-70}
APARTMENTS=${APARTMENTS:-2}
CACHE=${BENCH_CACHE:-target/bench-data}
SET="$CACHE/set-${DAYS}d-${APARTMENTS}a"
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
if [[ -z "${BIN:-}" ]]; then
  BIN=${CARGO_TARGET_DIR:-target}/release/datacycle
  cargo build --release --bins >&2
fi

if [[ ! -f "$SET/sources.env" ]]; then
  echo "generating $DAYS days x $APARTMENTS apartments into $SET" >&2
  /usr/bin/time -f "generate: %e s, peak RSS %M KiB" "$BIN" generate --out "$SET" --days "$DAYS" \
    --apartments "$APARTMENTS" >&2
fi

WORK=$(mktemp -d -t datacycle-bench.XXXXXX)
SHARE="$SET/smb"
# The share is the cached set itself (copying 200k files would dominate); the incremental tick
# adds two files to it, removed again on exit.
TICK_FILES="$WORK/tick-files.txt"
: >"$TICK_FILES"
PIDS=()
trap '{ [[ ${#PIDS[@]} -eq 0 ]] || kill "${PIDS[@]}"; } 2>/dev/null || true; xargs -d "\n" -r rm -f <"$TICK_FILES"; rm -rf "$WORK"; remove_sftp_user 2>/dev/null || true' EXIT
export ENV_FILE=/dev/null NO_PROGRESS=1 LOG_LEVEL=warn
export LAKE_URL="$WORK/lake" SMB_PATH="$SHARE"
HOUSE_MAP=$(grep '^HOUSE_MAP=' "$SET/sources.env" | cut -d= -f2-)
export HOUSE_MAP

files=$(find "$SHARE" -type f | wc -l)
bytes=$(du -sb "$SHARE" | cut -f1)
echo "data set: $files sensor files, $((bytes / 1024 / 1024)) MiB; machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
# Files in the page cache, as the targets assume; then the floor of the sensor path: merely
# reading every file (`find | xargs cat`, warm), measured in the same run as the stages.
find "$SHARE" -type f -print0 | xargs -0 -P 2 -n 5000 cat >/dev/null
cat_started=$(date +%s.%N)
find "$SHARE" -type f -print0 | xargs -0 -n 5000 cat >/dev/null
CAT_FLOOR=$(python3 -c "import time; print(time.time() - $cat_started)")
printf 'cat floor: %.2f s to read every sensor file\n' "$CAT_FLOOR" >&2

printf '%-34s %9s %12s %12s %10s\n' stage seconds rows rows/s "RSS MiB"
stage() {
  local name=$1; shift
  local out="$WORK/out.json" stats="$WORK/time.txt"
  /usr/bin/time -o "$stats" -f "%e %M" "$BIN" "$@" --format json >"$out"
  read -r seconds rss <"$stats"
  LAST_SECONDS=$seconds
  local rows
  rows=$(python3 -c 'import json,sys; print(sum(s["rows"] for s in json.load(open(sys.argv[1]))["steps"]))' "$out")
  printf '%-34s %9.2f %12d %12.0f %10d\n' "$name" "$seconds" "$rows" "$(python3 -c "print($rows/max($seconds,1e-9))")" $((rss / 1024))
  python3 - "$out" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["steps"]:
    print("    %-30s %9.2f s %9d files %11d rows" % (s["step"], s["seconds"], s["files"], s["rows"]))
    for note in s.get("notes", []):
        if "rows copied" in note:
            print("        " + note)
PY
}

# The end-to-end target of issue 2: ingest + bronze + silver, each its own process.
target=0
for step in "ingest sensors --full" "build bronze --full" "build silver --full"; do
  # shellcheck disable=SC2086 # the step is a command line
  stage "$step" $step
  target=$(python3 -c "print($target + $LAST_SECONDS)")
done
printf '%-34s %9.2f   (%.0f files/s; %.1fx the cat floor of %.2f s; target <= 5x)\n' \
  "ingest + bronze + silver" "$target" "$(python3 -c "print($files / $target)")" \
  "$(python3 -c "print($target / max($CAT_FLOOR, 1e-9))")" "$CAT_FLOOR"
stage "build gold --full" build gold --full

# An incremental tick: two new files arrive (the next minute of each apartment).
add_tick_files() {
  python3 scripts/lib/add-tick-files.py "$SHARE" "$TICK_FILES"
}
add_tick_files
stage "tick: 2 new files (rebuild)" rebuild
stage "no-op tick (rebuild)" rebuild
if [[ -n "${SENSORS_ONLY:-}" ]]; then exit 0; fi

# --- S3 (moto on loopback, root only): objects landing writes per 1,000 sensor files.
if [[ $(id -u) == 0 ]]; then
  # shellcheck source=scripts/lib/services.sh
  source scripts/lib/services.sh
  start_s3 >/dev/null 2>&1
  (
    export LAKE_URL="s3://$DATACYCLE_TEST_S3_BUCKET/bench" AWS_ENDPOINT_URL="$DATACYCLE_TEST_S3_ENDPOINT"
    export AWS_ACCESS_KEY_ID=datacycle AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
    stage "ingest sensors --full (S3, moto)" ingest sensors --full
    "$(moto_python)" - "$DATACYCLE_TEST_S3_ENDPOINT" "$files" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="datacycle", aws_secret_access_key="x")
objects = 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="datacycle-test", Prefix="bench/landing/"):
    objects += page.get("KeyCount", 0)
files = int(sys.argv[2])
print("    %d objects under landing/ for %d sensor files: %.2f per 1,000 files" % (objects, files, objects * 1000 / files))
PY
  )
else
  echo "(S3 object count skipped: run as root to start a throwaway S3 server)" >&2
fi

# --- Weather: 69-70 forecast files of ~153k rows, landing -> bronze -> silver on a lake of their own.
WEATHER_DIR="$SET/sftp"
weather_files=$(find "$WEATHER_DIR" -name '*.csv' | wc -l)
weather_bytes=$(du -sb "$WEATHER_DIR" | cut -f1)
echo "weather: $weather_files forecast files, $((weather_bytes / 1024 / 1024)) MiB" >&2
cat "$WEATHER_DIR"/*.csv >/dev/null
mkdir -p "$WORK/no-share"
export LAKE_URL="$WORK/weather-lake" SMB_PATH="$WORK/no-share" WEATHER_SOURCE="$WEATHER_DIR"
stage "ingest weather (local folder)" ingest weather
stage "build --full (weather bronze+silver)" build all --full

# --- Gold: the forecasts join the sensor lake, then silver -> gold in full and a one-day tick.
export LAKE_URL="$WORK/lake" SMB_PATH="$SHARE" WEATHER_SOURCE="$WEATHER_DIR"
stage "ingest weather into the sensor lake" ingest weather
stage "build (weather bronze + silver)" build all
stage "build gold --full (silver -> gold)" build gold --full
add_tick_files
stage "gold tick: 2 new files (rebuild)" rebuild
stage "gold no-op (build gold)" build gold

# --- Machine learning on that gold (its feature tables were built by `build gold --full`).
stage "ml benchmark (6 models + baselines)" ml benchmark
stage "ml predict (backtest + forecasts)" ml predict

# --- Publish: the 70-day gold into a throwaway PostgreSQL (root only: initdb runs as postgres).
if [[ $(id -u) == 0 ]]; then
  # shellcheck source=scripts/lib/services.sh
  source scripts/lib/services.sh
  start_postgres >/dev/null 2>&1
  export DB_URL="postgresql://datacycle_app:bench-pw@127.0.0.1:$DATACYCLE_TEST_PG_PORT/datacycle"
  DB_ADMIN_URL="$DATACYCLE_TEST_PG_ADMIN_URL" "$BIN" pg init >/dev/null
  stage "publish --full (70-day gold)" publish --full
  stage "publish, nothing changed" publish
  add_tick_files
  stage "tick + publish of one day (rebuild)" rebuild
  unset DB_URL
else
  echo "(publish skipped: run as root to start a throwaway PostgreSQL)" >&2
fi
unset WEATHER_SOURCE

# Download throughput from a real sshd on loopback (needs root for the throwaway user).
if [[ $(id -u) == 0 ]]; then
  # shellcheck source=scripts/lib/services.sh
  source scripts/lib/services.sh
  prepare_sshd >/dev/null 2>&1
  start_sshd 2>/dev/null
  chmod o+rx "$WORK"
  export LAKE_URL="$WORK/sftp-lake" SFTP_KNOWN_HOSTS="$WORK/known_hosts" SFTP_ACCEPT_NEW_HOST=true
  export SFTP_PASSWORD="$DATACYCLE_TEST_SSH_PASSWORD"
  export WEATHER_SOURCE="sftp://$DATACYCLE_TEST_SSH_USER@127.0.0.1:$SSHD_PORT$(realpath "$WEATHER_DIR")"
  stage "ingest weather (sftp, loopback)" ingest weather
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]; print("    download throughput: %.0f MB/s" % (s["bytes"]/1e6/max(s["seconds"],1e-9)))' "$WORK/out.json"
else
  echo "(sftp download throughput skipped: run as root to start a throwaway sshd)" >&2
fi

# --- Reference database: the generated seed in a throwaway MariaDB, its error log and power
# snapshots grown to production size (~43k errors quoted by the original docs), then a snapshot.
if [[ $(id -u) == 0 ]]; then
  start_mariadb >/dev/null 2>&1
  mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot -e 'CREATE DATABASE pidb'
  mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot pidb <"$SET/mysql/seed.sql"
  mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot pidb <<'SQL'
SET @n = (SELECT max(idError) FROM dierrors);
INSERT INTO dierrors SELECT idError + @n * k.k, idBuilding, errorMessage, creationDate
  FROM dierrors, (SELECT seq AS k FROM seq_1_to_39) AS k;
SET @p = (SELECT max(idProfile) FROM profile);
INSERT INTO profile SELECT idProfile + @p * k.k, idDevice, measuredAt, powerW
  FROM profile, (SELECT seq AS k FROM seq_1_to_99) AS k;
SQL
  export LAKE_URL="$WORK/reference-lake" MYSQL_URL="${DATACYCLE_TEST_MYSQL_ADMIN_URL}/pidb"
  unset WEATHER_SOURCE
  stage "ingest reference (MariaDB)" ingest reference
  stage "ingest reference again (no-op)" ingest reference
else
  echo "(reference snapshot skipped: run as root to start a throwaway MariaDB)" >&2
fi
