/**
 * A separate process that writes one object through the storage layer, so a test can measure its peak RSS
 * or SIGKILL it mid-upload. Usage: node --import tsx storage-child.ts <location> <key> <bytes> [delayMsPerMiB]
 * (S3 settings from the standard environment variables). Prints one JSON line when done.
 */
import { openRepository, parseBackupLocation } from '../../src/storage/index.ts';
import { testStream } from './storage-data.ts';

const [location, key, bytesArg, delayArg] = process.argv.slice(2);
const repo = openRepository({ location: parseBackupLocation(location!, process.cwd()), env: process.env });
const baseline = process.resourceUsage().maxRSS;
const started = Date.now();
const r = await repo.put(key!, testStream(Number(bytesArg), Number(delayArg ?? 0)));
await repo.close();
process.stdout.write(`${JSON.stringify({ bytes: r.bytes, baselineRssKiB: baseline, maxRssKiB: process.resourceUsage().maxRSS, ms: Date.now() - started })}\n`);
