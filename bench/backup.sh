#!/usr/bin/env bash
# Backup/restore benchmark (see bench/backup.ts): builds, then prints ratios against pg_dump/pg_restore.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
exec npx tsx bench/backup.ts "$@"
