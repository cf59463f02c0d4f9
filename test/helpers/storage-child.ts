/**
 * A separate process that writes one object through the storage layer, so a test can measure its peak RSS
 * or SIGKILL it mid-upload. Usage: node --import tsx storage-child.ts <location> <key> <bytes> [delayMsPerMiB]
 * (S3 settings from the standard environment variables). Prints one JSON line when done.
 */
import { readFileSync } from 'node:fs';
import { openRepository, parseBackupLocation } from '../../src/storage/index.ts';
import { testStream } from './storage-data.ts';

const [location, key, bytesArg, delayArg] = process.argv.slice(2);
const repo = openRepository({ location: parseBackupLocation(location!, process.cwd()), env: process.env });
/**
 * Peak RSS of this process image, in KiB: VmHWM is reset by exec. (getrusage's maxRSS is not: it carries the
 * peak of the forked copy of the parent, so a big parent, such as a jest worker, would hide the child's own peak.)
 */
function peakKiB(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error('no VmHWM in /proc/self/status');
  return Number(m[1]);
}
const baseline = peakKiB();
const started = Date.now();
const r = await repo.put(key!, testStream(Number(bytesArg), Number(delayArg ?? 0)));
await repo.close();
process.stdout.write(`${JSON.stringify({ bytes: r.bytes, baselineRssKiB: baseline, maxRssKiB: peakKiB(), ms: Date.now() - started })}\n`);
