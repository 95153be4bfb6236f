#!/usr/bin/env bash
# Small files after minute ticks without maintenance, and what `compact` does with them: the
# time to open every table and of a no-op tick before the ticks, after them and after `compact`,
# the data and log files of the busiest tables, `compact`'s own time and peak RSS, and the
# digest of every table before and after `compact` (it must not change a row).
#
#   TICKS=300 scripts/bench-compact.sh LAKE SHARE   # e.g. the 70-day bench lake and its share
#
# The lake is copied first; each tick adds two sensor files to SHARE (the next minute of the
# first two apartments, removed again on exit) and runs `rebuild`, as cron would every minute.
set -euo pipefail
cd "$(dirname "$0")/.."
LAKE_SRC=${1:?usage: scripts/bench-compact.sh LAKE SHARE}
SHARE=${2:?usage: scripts/bench-compact.sh LAKE SHARE}
TICKS=${TICKS:-300}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/datacycle}
[[ -x "$BIN" ]] || cargo build --release --bins >&2
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }

# shellcheck source=scripts/lib/bench-lake.sh
source scripts/lib/bench-lake.sh

seconds_of() {
  local started
  started=$(date +%s.%N)
  "$@" >/dev/null
  python3 -c "import time; print('%.2f' % (time.time() - $started))"
}
open_all() { seconds_of "$BIN" sql -c "SELECT 1" --format csv; }
noop_tick() { seconds_of "$BIN" rebuild --format json; }
# Live data files and log files of the tables that get a commit every tick.
files() {
  # status exits 1 or 2 on a lake whose newest data is old (a generated one): its JSON is wanted.
  { "$BIN" status --format json || true; } | python3 -c '
import json, sys
tables = {t["table"]: t for t in json.load(sys.stdin)["tables"]}
busy = ["bronze.sensor_readings", "silver.sensor_events", "silver.device_days", "gold.fact_energy_minute"]
print("; ".join("%s %d files (%d small), %d log files" % (n, tables[n]["files"], tables[n]["small_files"], tables[n]["log_files"]) for n in busy if n in tables))
total = sum(t["files"] for t in tables.values())
print("every table: %d data files, %d log files, %.1f MiB of log" % (total, sum(t["log_files"] for t in tables.values()), sum(t["log_bytes"] for t in tables.values()) / 2**20))'
}
measure() {
  echo "$1: open every table $(open_all) $(open_all) $(open_all) s; no-op tick $(noop_tick) $(noop_tick) $(noop_tick) s"
  files | sed 's/^/    /'
}

echo "lake: $LAKE_SRC ($(du -sh "$WORK/lake" | cut -f1)), share: $(find "$SHARE" -maxdepth 1 -type f | wc -l) files, $TICKS ticks"
"$BIN" rebuild --format json >/dev/null
measure "before the ticks"
started=$(date +%s.%N)
for _ in $(seq "$TICKS"); do
  python3 scripts/lib/add-tick-files.py "$SHARE" "$CREATED"
  "$BIN" rebuild --format json >/dev/null
done
echo "$TICKS ticks (2 new files each, rebuild): $(python3 -c "import time; print('%.0f' % (time.time() - $started))") s"
measure "after the ticks"
"$BIN" digest --format csv >"$WORK/digest-before.csv"
/usr/bin/time -o "$WORK/time.txt" -f "%e %M" "$BIN" compact --format json >"$WORK/compact.json"
read -r seconds rss <"$WORK/time.txt"
python3 - "$WORK/compact.json" "$seconds" "$rss" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
steps = report["steps"]
added = sum(s["files"] for s in steps)
removed = sum(s["counters"].get("files_removed", 0) for s in steps)
partitions = sum(s["counters"].get("partitions_compacted", 0) for s in steps)
print("compact: %s s, peak RSS %d MiB: %d files merged into %d in %d partitions of %d tables"
      % (sys.argv[2], int(sys.argv[3]) // 1024, removed, added, partitions, len(steps)))
PY
"$BIN" digest --format csv >"$WORK/digest-after.csv"
if cmp -s "$WORK/digest-before.csv" "$WORK/digest-after.csv"; then
  echo "digest of every table: identical before and after compact"
else
  echo "digest of every table: CHANGED by compact" && diff "$WORK/digest-before.csv" "$WORK/digest-after.csv" | head
fi
measure "after compact"
