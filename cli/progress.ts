// Progress bars on stderr, drawn only on a terminal: converting, loading weights, batches of work.

import cliProgress from 'cli-progress';
import type { ConvertProgress } from '../src/convert/convert.js';
import type { LoadProgress } from '../src/weights/source.js';

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A progress bar on stderr, drawn only on a terminal. */
function stderrBar(format: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar({ format, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic);
}

/**
 * A progress bar on stderr fed with progress events of several phases, restarted at each new phase;
 * `view` gives an event's phase name, value, total and size text.
 */
function phasedBar<P>(view: (p: P) => { phase: string; value: number; total: number; size: string }):
  { update: (p: P) => void; stop: () => void } {
  const bar = stderrBar('{phase} |{bar}| {percentage}% {size}');
  let phase: string | null = null;
  return {
    update(p) {
      const v = view(p);
      const payload = { phase: v.phase, size: v.size };
      if (phase !== v.phase) {
        if (phase !== null) bar.stop();
        bar.start(v.total, v.value, payload);
        phase = v.phase;
      } else {
        bar.setTotal(v.total);
        bar.update(v.value, payload);
      }
    },
    stop() {
      if (phase !== null) bar.stop();
    },
  };
}

/** The converter's progress bar (ConvertProgress events: reading, then writing). */
export function convertProgressBar(): { update: (p: ConvertProgress) => void; stop: () => void } {
  return phasedBar((p: ConvertProgress) => ({
    phase: p.phase === 'read' ? 'reading' : 'writing', value: p.done, total: Math.max(1, p.total),
    size: `${mib(p.done)} / ${mib(p.total)}`,
  }));
}

/** The loader's progress bar (LoadProgress events: reading weights, uploading them, compiling kernels). */
export function loadProgressBar(): { update: (p: LoadProgress) => void; stop: () => void } {
  const names: Record<string, string> = { download: 'reading weights', convert: 'converting (Hub model)', upload: 'uploading weights', compile: 'compiling kernels' };
  return phasedBar((p: LoadProgress) => {
    const total = Math.max(1, p.total, p.loaded);
    // 'download' and 'upload' count bytes; other phases ('compile': pipelines) count steps.
    const bytes = p.phase === 'download' || p.phase === 'upload';
    return { phase: names[p.phase] ?? p.phase, value: p.loaded, total, size: bytes ? `${mib(p.loaded)} / ${mib(total)}` : `${p.loaded}/${total}` };
  });
}

/** A bar counting `total` items of work. */
export function countBar(what: string, total: number): cliProgress.SingleBar {
  const bar = stderrBar(`${what} |{bar}| {value}/{total}`);
  bar.start(total, 0);
  return bar;
}
