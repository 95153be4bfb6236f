#!/usr/bin/env bash
# `watch` on a built lake: the duration of its ticks (2 new files, gold included) and of no-op
# ticks, as `watch` itself measures them (the process stays up between ticks in production, so
# start-up is not part of a tick), and the time to open every lake table before and after.
#
#   scripts/bench-watch.sh LAKE SHARE      # e.g. a copy of the 70-day bench lake and its share
#
# The lake is copied first (the original stays as it is); two sensor files per tick are added
# to SHARE (the next minute of the first two apartments) and removed again on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
LAKE_SRC=${1:?usage: scripts/bench-watch.sh LAKE SHARE}
SHARE=${2:?usage: scripts/bench-watch.sh LAKE SHARE}
TICKS=${TICKS:-5}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/datacycle}
[[ -x "$BIN" ]] || cargo build --release --bins >&2

# shellcheck source=scripts/lib/bench-lake.sh
source scripts/lib/bench-lake.sh

# The simulated now: the minute after the newest file of the share.
next_minute() {
python3 - "$SHARE" <<'PY'
import os, re, sys, datetime
newest = max(datetime.datetime.strptime(m.group(1), "%d.%m.%Y %H%M")
             for m in (re.match(r"(\d\d\.\d\d\.\d{4} \d{4})_.+_received\.json$", n)
                       for n in os.listdir(sys.argv[1])) if m)
print((newest + datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:00Z"))
PY
}

# Two new files: the next minute of the first two apartments.
add_tick_files() {
  python3 scripts/lib/add-tick-files.py "$SHARE" "$CREATED"
}

# One `watch` from $1 to $1 (whatever is due then); prints "<window>=<seconds>" per window run.
watch_at() {
  "$BIN" watch --simulate-from "$1" --until "$1" --format json >"$WORK/watch.json"
  python3 -c 'import json,sys
w = json.load(open(sys.argv[1]))["windows"]
print(" ".join("%s=%.2f" % (k, v["seconds"]) for k, v in sorted(w.items()) if v["runs"]))' "$WORK/watch.json"
}

open_all() {
  local started
  started=$(date +%s.%N)
  "$BIN" sql -c "SELECT 1" --format csv >/dev/null
  python3 -c "import time; print('%.2f' % (time.time() - $started))"
}

echo "lake: $LAKE_SRC ($(du -sh "$WORK/lake" | cut -f1)), share: $(find "$SHARE" -maxdepth 1 -type f | wc -l) files"
echo "open every table (sql -c 'SELECT 1'), before: $(open_all) s $(open_all) s $(open_all) s"
# Simulated minutes: the first watch, then per round a tick with two new files and a no-op tick.
start=$(next_minute)
minute() { date -u -d "$start + $1 minutes" +%Y-%m-%dT%H:%M:00Z; }
echo "first watch at $start (every window is due once): $(watch_at "$start")"
for i in $(seq "$TICKS"); do
  add_tick_files
  tick=$(watch_at "$(minute $((2 * i)))")
  noop=$(watch_at "$(minute $((2 * i + 1)))")
  echo "tick $i (2 new files): $tick; no-op tick: $noop"
done
echo "open every table, after: $(open_all) s $(open_all) s $(open_all) s"

# One long-running watch in real time (its session lives across ticks, as in production): ticks
# every 10 s for LONG_SECONDS, two new files every other tick. Every other window is marked done
# for its current slot first, so only ticks run.
LONG_SECONDS=${LONG_SECONDS:-120}
python3 - "$WORK/lake/_ops/state/schedule.json" <<'PY'
import datetime, json, sys
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
done = {"slot": now, "finished_at": now, "ok": True, "failures": 0, "retry_at": None}
windows = ["tick", "weather", "reference", "benchmark", "predict", "maintenance", "publish"]
json.dump({"windows": {w: done for w in windows}}, open(sys.argv[1], "w"))
PY
until=$(date -u -d "+$LONG_SECONDS seconds" +%Y-%m-%dT%H:%M:%SZ)
LOG_FORMAT=json LOG_LEVEL=debug "$BIN" watch --tick-seconds 10 --until "$until" --format json \
  >"$WORK/long.json" 2>"$WORK/long.log" &
watcher=$!
while kill -0 "$watcher" 2>/dev/null; do
  sleep 20
  add_tick_files
done
wait "$watcher"
python3 - "$WORK/long.log" <<'PY'
import json, statistics, sys
ticks = []  # (seconds, rows, {step: seconds})
steps = {}
for line in open(sys.argv[1]):
    try:
        event = json.loads(line)
    except ValueError:
        continue
    fields = event.get("fields", event)
    if fields.get("window") != "tick":
        continue
    if "step" in fields and "seconds" in fields:
        steps[fields["step"]] = steps.get(fields["step"], 0) + fields["seconds"]
    elif "steps" in fields:
        ticks.append((fields["seconds"], fields["rows"], steps))
        steps = {}
work = [t for t in ticks[1:] if t[1] > 0]
idle = [t for t in ticks[1:] if t[1] == 0]
fmt = lambda xs: " ".join("%.2f" % x for x in sorted(xs))
print("long-running watch: first tick %.2f s (opens the session)" % ticks[0][0])
print("  ticks with new files (s): " + fmt(t[0] for t in work))
print("  no-op ticks (s): " + fmt(t[0] for t in idle))
# Where a tick with new files spends its time: the median of each step (gold builds several
# tables at once, so the steps add up to more than the tick).
names = sorted({n for t in work for n in t[2]}, key=lambda n: -statistics.median(t[2].get(n, 0) for t in work))
for name in names:
    print("    %-34s median %.3f s" % (name, statistics.median(t[2].get(name, 0) for t in work)))
if work:
    slowest = max(work)
    print("  the slowest tick with new files (%.2f s), its slowest steps: %s" % (slowest[0], ", ".join(
        "%s %.2f s" % kv for kv in sorted(slowest[2].items(), key=lambda kv: -kv[1])[:5])))
PY
