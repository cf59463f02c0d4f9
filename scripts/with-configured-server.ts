// Runs a command (default: npm test) against a throwaway PostgreSQL cluster configured the way README recommends
// for production (pg_stat_statements preloaded, wal_level = logical) and with unusual session defaults (DateStyle,
// IntervalStyle, bytea_output, extra_float_digits, TimeZone), with TEST_DATABASE_URL pointing at it, so the
// suite proves it does not depend on the local server's settings. The machine's own server is not touched.
// Usage: tsx scripts/with-configured-server.ts [--allow-wal2json] [-- command args...]
import { execa } from 'execa';
import { startThrowawayCluster } from '../src/pgtools/cluster.ts';

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const own = dash < 0 ? argv : argv.slice(0, dash);
const command = dash < 0 ? ['npm', 'test'] : argv.slice(dash + 1);
const settings: Record<string, string | number> = {
  shared_preload_libraries: 'pg_stat_statements',
  wal_level: 'logical',
  max_connections: 200, // the suite runs test files in parallel
  max_replication_slots: 20,
  max_wal_senders: 20,
  // Session defaults users' servers have that differ from this machine's: nothing of ours may depend on them.
  DateStyle: 'SQL, DMY',
  IntervalStyle: 'sql_standard',
  bytea_output: 'escape',
  extra_float_digits: 0,
  TimeZone: 'America/Sao_Paulo',
};
// Builds with output_plugin_libraries (this machine's) refuse wal2json unless listed: the default reproduces the
// issue's server; --allow-wal2json the fully working one.
if (own.includes('--allow-wal2json')) settings.output_plugin_libraries = 'pgoutput, test_decoding, wal2json';

const cluster = await startThrowawayCluster({ env: process.env, settings });
process.stderr.write(`configured server: ${cluster.url} (${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(', ')})\n`);
let code = 1;
try {
  const r = await execa(command[0]!, command.slice(1), { env: { ...process.env, TEST_DATABASE_URL: cluster.url }, stdio: 'inherit', reject: false });
  code = r.exitCode ?? 1;
} finally {
  await cluster.stop();
}
process.exitCode = code;
