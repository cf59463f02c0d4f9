/** Profile helper: `npx tsx bench/copy-profile.ts <url> <table> [digest]`: one COPY TO over pg-copy-streams (the backup's transport), optionally with the row digest; prints wall time and Node CPU. */
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { RowDigest } from '../src/backup/row-digest.ts';
const url = process.argv[2]!; const table = process.argv[3]!; const digest = process.argv[4] === 'digest';
const c = new pg.Client({ connectionString: url }); await c.connect();
const t0 = performance.now(); const cpu0 = process.cpuUsage();
const s = c.query(copyTo(`COPY "${table}" TO STDOUT`)); const d = new RowDigest(); let n = 0;
for await (const chunk of s as AsyncIterable<Buffer>) { n += chunk.length; if (digest) d.update(chunk); }
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ table, digest, bytes: n, wallS: ((performance.now() - t0) / 1000).toFixed(2), nodeCpuS: ((cpu.user + cpu.system) / 1e6).toFixed(2), rows: digest ? d.rows : undefined }));
await c.end();
