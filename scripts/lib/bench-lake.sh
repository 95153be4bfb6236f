# Sourced by the benchmarks that work on a copy of a built lake (bench-watch.sh, bench-compact.sh):
# with LAKE_SRC and SHARE set, makes WORK (removed on exit) with a copy of the lake, CREATED (the
# tick files added to SHARE, removed on exit) and the environment pointing datacycle at both.
WORK=$(mktemp -d -t "datacycle-$(basename "$0" .sh).XXXXXX")
CREATED="$WORK/created.txt"
: >"$CREATED"
trap 'xargs -d "\n" -r rm -f <"$CREATED"; rm -rf "$WORK"' EXIT
cp -a "$LAKE_SRC" "$WORK/lake"
export ENV_FILE=/dev/null NO_PROGRESS=1 LOG_LEVEL=warn LAKE_URL="$WORK/lake" SMB_PATH="$SHARE"
# A generated set names its apartments next to the share.
if [[ -f "$SHARE/../sources.env" ]]; then
  HOUSE_MAP=$(grep '^HOUSE_MAP=' "$SHARE/../sources.env" | cut -d= -f2-)
  export HOUSE_MAP
fi
