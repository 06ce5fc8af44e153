// Progress display for the CLI: a one-line bar (bytes, rate, ETA) on a terminal, JSON lines with
// --progress json, nothing with -q. Everything goes to stderr, so stdout can carry image data.

import type { Progress } from '../core/progress.js';
import { formatBytes, formatDuration, formatRate } from '../core/units.js';

export type ProgressMode = 'auto' | 'bar' | 'json' | 'none';

export interface ProgressOptions {
  quiet?: boolean;
  progress?: string;
}

/** Chooses the display from -q / --progress and whether stderr is a terminal. */
export function progressFromOptions(opts: ProgressOptions, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (opts.quiet) return new NullProgress();
  const mode = opts.progress ?? 'auto';
  if (mode === 'json') return new JsonProgress(stream);
  if (mode === 'none') return new NullProgress();
  if (mode === 'bar' || (mode === 'auto' && stream.isTTY)) return new BarProgress(stream);
  return new PlainProgress(stream);
}

class NullProgress implements Progress {
  begin(): void {}
  update(): void {}
  end(): void {}
  note(): void {}
}

/** Not a terminal and not JSON: phases and notes as plain lines, no per-update output. */
class PlainProgress implements Progress {
  private phase = '';
  private startMs = 0;
  private doneBytes = 0;
  constructor(private readonly out: NodeJS.WritableStream) {}
  begin(phase: string): void {
    this.phase = phase;
    this.startMs = Date.now();
    this.doneBytes = 0;
  }
  update(doneBytes: number): void {
    this.doneBytes = doneBytes;
  }
  end(): void {
    const seconds = (Date.now() - this.startMs) / 1000;
    this.out.write(
      `${this.phase}: ${formatBytes(this.doneBytes)} in ${seconds.toFixed(1)}s` +
        (seconds > 0 ? ` (${formatRate(this.doneBytes / seconds)})` : '') +
        '\n',
    );
  }
  note(message: string): void {
    this.out.write(`${message}\n`);
  }
}

const BAR_WIDTH = 24;
const REDRAW_INTERVAL_MS = 100;

class BarProgress implements Progress {
  private phase = '';
  private totalBytes: number | undefined;
  private doneBytes = 0;
  private startMs = 0;
  private lastDrawMs = 0;
  private drawn = false;
  // A smoothed rate so the ETA does not jump with every chunk.
  private rateBytesPerSecond = 0;
  private lastRateMs = 0;
  private lastRateBytes = 0;

  constructor(private readonly out: NodeJS.WriteStream) {}

  begin(phase: string, totalBytes?: number): void {
    this.phase = phase;
    this.totalBytes = totalBytes;
    this.doneBytes = 0;
    this.startMs = this.lastRateMs = Date.now();
    this.lastRateBytes = 0;
    this.rateBytesPerSecond = 0;
    this.draw(true);
  }

  update(doneBytes: number): void {
    this.doneBytes = doneBytes;
    const now = Date.now();
    if (now - this.lastRateMs >= 500) {
      const instant = ((doneBytes - this.lastRateBytes) * 1000) / (now - this.lastRateMs);
      this.rateBytesPerSecond = this.rateBytesPerSecond === 0 ? instant : 0.7 * this.rateBytesPerSecond + 0.3 * instant;
      this.lastRateMs = now;
      this.lastRateBytes = doneBytes;
    }
    if (now - this.lastDrawMs >= REDRAW_INTERVAL_MS) this.draw(false);
  }

  end(): void {
    const seconds = (Date.now() - this.startMs) / 1000;
    this.clear();
    this.out.write(
      `${this.phase}: ${formatBytes(this.doneBytes)} in ${formatDuration(seconds)}` +
        (seconds > 0 ? ` (${formatRate(this.doneBytes / seconds)})` : '') +
        '\n',
    );
    this.drawn = false;
    this.phase = ''; // a note after the phase ended must not redraw its finished bar
  }

  note(message: string): void {
    this.clear();
    this.out.write(`${message}\n`);
    if (this.phase) this.draw(true);
  }

  private clear(): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDrawMs < REDRAW_INTERVAL_MS) return;
    this.lastDrawMs = now;
    const elapsed = (now - this.startMs) / 1000;
    const rate = this.rateBytesPerSecond || (elapsed > 0 ? this.doneBytes / elapsed : 0);
    let line = this.phase;
    if (this.totalBytes !== undefined && this.totalBytes > 0) {
      const fraction = Math.min(1, this.doneBytes / this.totalBytes);
      const filled = Math.round(fraction * BAR_WIDTH);
      const eta = rate > 0 ? (this.totalBytes - this.doneBytes) / rate : Number.NaN;
      line +=
        ` [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(1).padStart(5)}%` +
        ` ${formatBytes(this.doneBytes)}/${formatBytes(this.totalBytes)} ${formatRate(rate)} ETA ${formatDuration(eta)}`;
    } else {
      line += ` ${formatBytes(this.doneBytes)} ${formatRate(rate)} ${formatDuration(elapsed)}`;
    }
    const width = this.out.columns ?? 100;
    this.out.write(`\r\x1b[2K${line.slice(0, Math.max(10, width - 1))}`);
    this.drawn = true;
  }
}

/** One JSON object per line: {"event":"begin"|"progress"|"end"|"note", ...}, at most 2 updates/s. */
class JsonProgress implements Progress {
  private phase = '';
  private totalBytes: number | undefined;
  private doneBytes = 0;
  private startMs = 0;
  private lastEmitMs = 0;

  constructor(private readonly out: NodeJS.WritableStream) {}

  begin(phase: string, totalBytes?: number): void {
    this.phase = phase;
    this.totalBytes = totalBytes;
    this.doneBytes = 0;
    this.startMs = Date.now();
    this.emit({ event: 'begin', phase, totalBytes: totalBytes ?? null });
  }

  update(doneBytes: number): void {
    this.doneBytes = doneBytes;
    const now = Date.now();
    if (now - this.lastEmitMs < 500) return;
    this.lastEmitMs = now;
    const elapsed = (now - this.startMs) / 1000;
    const rate = elapsed > 0 ? doneBytes / elapsed : 0;
    const eta = this.totalBytes !== undefined && rate > 0 ? (this.totalBytes - doneBytes) / rate : null;
    this.emit({
      event: 'progress',
      phase: this.phase,
      doneBytes,
      totalBytes: this.totalBytes ?? null,
      bytesPerSecond: Math.round(rate),
      etaSeconds: eta === null ? null : Math.round(eta),
    });
  }

  end(): void {
    const elapsed = (Date.now() - this.startMs) / 1000;
    this.emit({ event: 'end', phase: this.phase, doneBytes: this.doneBytes, seconds: Number(elapsed.toFixed(3)) });
  }

  note(message: string): void {
    this.emit({ event: 'note', message });
  }

  private emit(obj: Record<string, unknown>): void {
    this.out.write(`${JSON.stringify({ time: new Date().toISOString(), ...obj })}\n`);
  }
}
