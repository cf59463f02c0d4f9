/**
 * Profile helper: `npx tsx bench/copy-profile.ts <url> <table> [digest] [pgcs]`: one COPY TO over our own connection,
 * the backup's transport (src/archive/copy-out.ts; `pgcs`: pg-copy-streams' copy-to instead, the transport before
 * it), the text discarded, optionally with the row digest; prints wall time and Node CPU.
 */
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { CopyOutStream } from '../src/archive/copy-out.ts';
import { RowDigest } from '../src/archive/row-digest.ts';
const url = process.argv[2]!; const table = process.argv[3]!; const digest = process.argv.includes('digest'); const pgcs = process.argv.includes('pgcs');
const c = new pg.Client({ connectionString: url }); await c.connect();
const t0 = performance.now(); const cpu0 = process.cpuUsage();
const d = new RowDigest(); let n = 0;
const sql = `COPY "${table}" TO STDOUT`;
if (pgcs) {
  for await (const chunk of c.query(copyTo(sql)) as AsyncIterable<Buffer>) { n += chunk.length; if (digest) d.update(chunk); }
} else {
  for await (const chunk of c.query(new CopyOutStream(sql, digest ? (t) => d.update(t) : null)) as AsyncIterable<Buffer>) n += chunk.length;
}
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ table, transport: pgcs ? 'pg-copy-streams' : 'copy-out', digest, bytes: n, wallS: ((performance.now() - t0) / 1000).toFixed(2), nodeCpuS: ((cpu.user + cpu.system) / 1e6).toFixed(2), rows: digest ? d.rows : undefined, digestValue: digest ? d.digest() : undefined }));
await c.end();
