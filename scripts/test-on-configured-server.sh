#!/usr/bin/env bash
# npm test against a throwaway cluster with shared_preload_libraries = 'pg_stat_statements' and wal_level = logical
# (TEST_DATABASE_URL points at it). Pass --allow-wal2json to also allow the wal2json plugin on builds that restrict
# output plugins; anything after -- replaces `npm test` (e.g. -- npx jest test/integration/diagnostics.test.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx scripts/with-configured-server.ts "$@"
