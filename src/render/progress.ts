import type { Writable } from 'node:stream';
import type { ChalkInstance } from 'chalk';
import { redact } from '../config/secrets.ts';
import type { ProgressEvent, ProgressFn } from '../progress.ts';
import { formatBytes } from '../format.ts';

// Re-exported for compatibility: the types live in src/progress.ts and formatBytes in src/format.ts, so services need not import the renderer.
export type { ProgressEvent, ProgressFn };
export { formatBytes };

export interface Progress {
  report: ProgressFn;
  stop: (final?: string) => void;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Rate and ETA of one phase, measured from the phase's first event. */
export interface ProgressStats {
  percent?: number;
  /** units per second */
  rate?: number;
  etaMs?: number;
}

/**
 * Turns a stream of events into lines with a percentage (when the event carries a total), a throughput and an
 * ETA (once a phase has run for a moment, so the first sample does not give a silly rate). `now` is injected for tests.
 */
export class ProgressTracker {
  private phase?: string;
  private startedAt = 0;
  private startDone = 0;

  constructor(private readonly now: () => number = Date.now) {}

  stats(e: ProgressEvent): ProgressStats {
    const t = this.now();
    if (e.phase !== this.phase || e.done === undefined || e.done < this.startDone) {
      this.phase = e.phase;
      this.startedAt = t;
      this.startDone = e.done ?? 0;
    }
    const out: ProgressStats = {};
    if (e.done !== undefined && e.total !== undefined && e.total > 0) out.percent = Math.min(100, Math.floor((e.done / e.total) * 100));
    const elapsed = t - this.startedAt;
    if (e.done !== undefined && elapsed >= 1000 && e.done > this.startDone) {
      out.rate = ((e.done - this.startDone) * 1000) / elapsed;
      if (e.total !== undefined && e.total >= e.done) out.etaMs = ((e.total - e.done) / out.rate) * 1000;
    }
    return out;
  }

  format(e: ProgressEvent): string {
    return formatProgress(e, this.stats(e));
  }
}

export function formatProgress(e: ProgressEvent, stats: ProgressStats = {}): string {
  const amount = e.done === undefined ? '' : e.unit === 'bytes'
    ? ` ${formatBytes(e.done)}${e.total ? ` / ${formatBytes(e.total)}` : ''}`
    : ` ${e.done}${e.total ? `/${e.total}` : ''}${e.unit ? ` ${e.unit}` : ''}`;
  const extra: string[] = [];
  if (stats.percent !== undefined) extra.push(`${stats.percent}%`);
  if (stats.rate !== undefined) extra.push(e.unit === 'bytes' ? `${formatBytes(stats.rate)}/s` : `${stats.rate.toFixed(stats.rate < 10 ? 1 : 0)}${e.unit ? ` ${e.unit}` : ''}/s`);
  if (stats.etaMs !== undefined && stats.percent !== undefined && stats.percent < 100) extra.push(`ETA ${formatDuration(stats.etaMs)}`);
  return `${e.phase}${amount}${extra.length ? ` (${extra.join(', ')})` : ''}${e.message ? `: ${e.message}` : ''}`;
}

export interface ProgressOptions {
  stream: Writable;
  c: ChalkInstance;
  color: boolean;
  /** print lines (with --verbose on a non-terminal) instead of nothing */
  log?: (line: string) => void;
}

/**
 * A progress reporter on a terminal. An animated ora spinner only when the terminal reports a usable width:
 * ora computes the lines to clear as text width / columns, and a pty reporting 0 columns (`script`, `docker exec`
 * without a size, some CI runners) makes that Infinity, so it cleared lines forever and never yielded to SIGINT
 * (ora 9.4). Without a width, one plain line per phase.
 */
export async function terminalProgress(opts: ProgressOptions, tracker = new ProgressTracker()): Promise<Progress> {
  const columns = (opts.stream as { columns?: number }).columns;
  if (!(typeof columns === 'number' && Number.isFinite(columns) && columns > 0)) return phaseLines(opts, tracker);
  const { default: ora } = await import('ora');
  const spinner = ora({ stream: opts.stream as NodeJS.WritableStream, discardStdin: false, color: opts.color ? 'cyan' : false }).start();
  return {
    report: (e) => {
      spinner.text = redact(tracker.format(e));
      if (!spinner.isSpinning) spinner.start(); // restarted after a stop() that made room for printed lines
    },
    stop: (final) => {
      if (final) spinner.stopAndPersist({ symbol: opts.c.green('✔'), text: redact(final) });
      else spinner.stop();
    },
  };
}

function phaseLines(opts: ProgressOptions, tracker: ProgressTracker): Progress {
  let lastPhase: string | undefined;
  return {
    report: (e) => {
      const line = tracker.format(e);
      if (e.phase === lastPhase) return;
      lastPhase = e.phase;
      opts.stream.write(`${redact(line)}\n`);
    },
    stop: (final) => {
      lastPhase = undefined;
      if (final) opts.stream.write(`${redact(`${opts.c.green('✔')} ${final}`)}\n`);
    },
  };
}
