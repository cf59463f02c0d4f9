#!/usr/bin/env bash
# Start-up time of the CLI: `axisor-db --help` (printed without loading commander or any command module) and
# `axisor-db backup --help` (one command module), against `psql --help` as the raw-tool reference and `node -e 0`
# (the floor for any Node CLI). Median of N runs, wall clock.
# Usage: bash bench/cli-startup.sh [runs]   (after npm run build)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
median() { # command...
  local t=()
  for _ in $(seq "$runs"); do
    local s e
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
    t+=($(( (e - s) / 1000000 )))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
# psql as the CLI finds it: PG_BIN, then PATH, then the newest /usr/lib/postgresql/<version>/bin.
psql_bin=${PG_BIN:+$PG_BIN/psql}
psql_bin=${psql_bin:-$(command -v psql || ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)}
base=$(median "$psql_bin" --help)
node0=$(median node -e 0)
top=$(median ./bin/axisor-db --help)
sub=$(median ./bin/axisor-db backup --help)
printf '%-28s %6s ms\n' 'psql --help' "$base" 'node -e 0' "$node0" 'axisor-db --help' "$top" 'axisor-db backup --help' "$sub"
awk -v a="$top" -v b="$base" -v c="$sub" 'BEGIN { printf "ratio axisor-db --help / psql --help: %.1fx; backup --help / psql: %.1fx; target: axisor-db --help <= 120 ms\n", a / b, c / b }'
