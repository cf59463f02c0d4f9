import { execa, type ResultPromise } from 'execa';
import { spawnChild } from '../pgtools/children.ts';
import { ToolError, UsageError } from '../errors.ts';
import type { Compression } from './manifest.ts';

export interface Codec {
  name: Compression;
  /** File name suffix of a compressed chunk. */
  ext: string;
  /** Program and arguments that compress stdin to stdout (null: store as is). */
  compress: { bin: string; args: string[] } | null;
  /** Program and arguments that decompress a file to stdout. */
  decompress: ((file: string) => { bin: string; args: string[] }) | null;
  /** The compressor for COPY binary streams when it differs (zstd at its default level: ZSTD_BINARY). */
  compressBinary?: { bin: string; args: string[] } | null;
}

export const COMPRESSIONS: readonly Compression[] = ['zstd', 'gzip', 'none'];

/**
 * Level 1 adds zstd's long-distance matching (--long=21: a 2 MB window, matches of 32 bytes and more): rows of
 * Axisor tables repeat the UUID keys of their parents (a user's id in each of its 50 trades) further apart than
 * level 1's 512 KB window, and gzip -6 (pg_dump -Fc) beat plain -1 by 2.5 % on the seeded data. Measured on the
 * COPY text of the 5M-trade seeded database (sizes in MB; CPU under load 12-16, so read it as a ratio):
 *
 * | setting | TradeLog 320 MB | TradeLog last 503 MB | other tables 690 MB | CPU, first column |
 * |---|---:|---:|---:|---:|
 * | gzip -6 | 47.06 | 73.79 | 96.28 | |
 * | zstd -1 | 47.82 | 75.01 | 100.95 | 0.95 s |
 * | zstd -1 --long=21 | 46.56 | 73.02 | 98.17 | 1.31 s |
 * | zstd -1 --long=21, min match 32 (this) | 45.95 | 72.06 | 98.13 | 1.53 s |
 *
 * -2, -3 and -4 are bigger than -1 on this data; smaller min matches or sparser hashing were smaller on one
 * sample and bigger on another. The window stays at 2 MB, so `zstd -d` needs no flag and no more memory (its
 * limit is 128 MB): backups written with or without it decompress alike. Other levels are zstd's own.
 */
export const ZSTD_LEVEL1_LDM = ['--long=21', '--zstd=ldmMinMatch=32'] as const;

/**
 * COPY binary streams at the default level: zstd -2, which on binary rows is both cheaper and smaller than the
 * text setting above (the 17 binary streams of the 5M-trade seeded database, 2310 MB; CPU user seconds of three
 * runs, measured next to a test run, so read them as ratios):
 *
 * | setting | size | CPU user |
 * |---|---:|---:|
 * | -1 --long=21, min match 32 (the text setting) | 315.5 MB | 7.9, 8.7, 11.6 s |
 * | -2 | 314.5 MB | 7.2, 6.2, 7.9 s |
 * | -1 | 319.4 MB (more than pg_dump -Fc's 318.2) | 6.2, 5.3, 5.3 s |
 *
 * (On COPY text, -2 was 8 % bigger than -1: the binary form's fixed-width fields suit -2's double hash.)
 */
export const ZSTD_BINARY = ['-2'] as const;

/** The compressor for one data stream: a Codec's own, or its binary one for a COPY binary stream. */
export function streamCodec(codec: Codec, format: 'text' | 'binary'): Codec {
  return format === 'binary' && codec.compressBinary ? { ...codec, compress: codec.compressBinary } : codec;
}

/**
 * PostgreSQL 15's pg_dump only knows gzip, so compression runs outside it, one compressor per data stream
 * (the streams themselves run in parallel, so each compressor is single-threaded: -T1).
 * Default zstd -1 (with long-distance matching, above): on Axisor's COPY text (UUID text keys) it was both faster and
 * smaller than -3 (500k trade rows, 117 MB: -1 20.2 MB in 0.40 s, -3 21.4 MB in 0.45 s, -9 19.8 MB in 2.75 s, gzip
 * -6 24.4 MB in 3.65 s).
 */
export function codecFor(name: Compression, level?: number): Codec {
  switch (name) {
    case 'zstd': {
      const l = level ?? 1;
      if (l < 1 || l > 19) throw new UsageError(`--compress-level ${l} is out of range for zstd (1-19)`);
      return {
        name, ext: '.zst', compress: { bin: 'zstd', args: ['-q', '-c', `-${l}`, '-T1', ...(l === 1 ? ZSTD_LEVEL1_LDM : [])] }, decompress: (f) => ({ bin: 'zstd', args: ['-q', '-d', '-c', f] }),
        // An explicit --compress-level applies to every stream as given.
        compressBinary: level === undefined ? { bin: 'zstd', args: ['-q', '-c', ...ZSTD_BINARY, '-T1'] } : null,
      };
    }
    case 'gzip': {
      const l = level ?? 6;
      if (l < 1 || l > 9) throw new UsageError(`--compress-level ${l} is out of range for gzip (1-9)`);
      return { name, ext: '.gz', compress: { bin: 'gzip', args: ['-c', `-${l}`] }, decompress: (f) => ({ bin: 'gzip', args: ['-d', '-c', f] }) };
    }
    case 'none':
      return { name, ext: '', compress: null, decompress: null };
    default:
      throw new UsageError(`unknown compression '${String(name)}'`, { hint: `use --compress ${COMPRESSIONS.join('|')}` });
  }
}

/** The compressor's version line, for the manifest; a missing program is a clear error before anything starts. */
export async function probeCodec(codec: Codec, env: Readonly<Record<string, string | undefined>>): Promise<string | null> {
  if (!codec.compress) return null;
  const r = await execa(codec.compress.bin, ['--version'], { env: { PATH: env.PATH ?? '/usr/bin:/bin' }, extendEnv: false, reject: false });
  if (r.exitCode !== 0) {
    throw new ToolError('compressor_missing', `${codec.compress.bin} is not installed or not on PATH`, {
      hint: `install it (apt-get install ${codec.compress.bin}) or choose another --compress`,
    });
  }
  return `${String(r.stdout || r.stderr).split('\n')[0]}`.trim();
}

/**
 * Starts a compressor or decompressor (a Codec's command) as a stream stage: only PATH in its environment, its
 * stdout streamed (never buffered), its stderr kept for the failure message; the caller checks its exit.
 */
export function spawnCodec(cmd: { bin: string; args: string[] }, env: Readonly<Record<string, string | undefined>>, stdin: 'pipe' | 'ignore' = 'pipe'): ResultPromise {
  return spawnChild(cmd.bin, cmd.args, { env: { PATH: env.PATH ?? '/usr/bin:/bin' }, extendEnv: false, reject: false, stdin, stdout: 'pipe', buffer: { stdout: false, stderr: true } });
}
