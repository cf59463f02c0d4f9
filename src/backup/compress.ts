import { execa } from 'execa';
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
}

export const COMPRESSIONS: readonly Compression[] = ['zstd', 'gzip', 'none'];

/**
 * PostgreSQL 15's pg_dump only knows gzip, so compression runs outside it, one compressor per data stream
 * (the streams themselves run in parallel, so each compressor is single-threaded: -T1).
 * Default zstd -1: on Axisor's COPY text (UUID text keys) it was both faster and smaller than -3
 * (500k trade rows, 117 MB: -1 20.2 MB in 0.40 s, -3 21.4 MB in 0.45 s, -9 19.8 MB in 2.75 s, gzip -6 24.4 MB in 3.65 s).
 */
export function codecFor(name: Compression, level?: number): Codec {
  switch (name) {
    case 'zstd': {
      const l = level ?? 1;
      if (l < 1 || l > 19) throw new UsageError(`--compress-level ${l} is out of range for zstd (1-19)`);
      return { name, ext: '.zst', compress: { bin: 'zstd', args: ['-q', '-c', `-${l}`, '-T1'] }, decompress: (f) => ({ bin: 'zstd', args: ['-q', '-d', '-c', f] }) };
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
