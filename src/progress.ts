/**
 * The one progress event a service reports through `onProgress`. Neutral: services import it from here and never
 * from src/render, which turns these events into a spinner or a progress line (src/render/progress.ts).
 */
export interface ProgressEvent {
  /** Short phase name: 'dump', 'compress', 'verify', 'restore'... */
  phase: string;
  message?: string;
  done?: number;
  total?: number;
  unit?: 'bytes' | 'rows' | 'tables' | 'items';
}

export type ProgressFn = (event: ProgressEvent) => void;
