import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The installed package's root (where prisma/ lives). Found by walking up from this file, because the
 * same code runs from src/ (tsx, Jest) and from dist/src/ (the built bin), one level deeper.
 */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'axisor-db') return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('axisor-db package root not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}
