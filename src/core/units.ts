// Byte sizes for humans: parsing "256M"/"10%" style options and formatting sizes and rates.

import { SnapcloneError } from './errors.js';

const BINARY_SUFFIXES: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  s: 512, // LVM and sfdisk sectors
};

/**
 * Parses a size as LVM writes them: "256M", "1.5G", "4096", "8s" (512-byte sectors). Suffixes are
 * binary, as in LVM. Throws a 'usage' error naming the option on anything else.
 */
export function parseSizeBytes(text: string, optionName: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? BINARY_SUFFIXES[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new SnapcloneError('USAGE_BAD_SIZE', `${optionName}: cannot read "${text}" as a size`, {
      kind: 'usage',
      expected: 'a number with an optional K, M, G, T (binary) or s (512-byte sectors) suffix',
    });
  }
  const value = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(value)) {
    throw new SnapcloneError('USAGE_BAD_SIZE', `${optionName}: ${text} is too large`, { kind: 'usage' });
  }
  return value;
}

/** "1.50 GiB", "512 B": binary units, three significant digits. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${bytes} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

/** "12.3 MB/s": decimal megabytes, as bzip2 and benchmarks report. */
export function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
}

/** "1h02m", "3m05s", "42s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function parseIntegerOption(text: string, optionName: string, min: number, max: number): number {
  const v = /^\s*-?\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new SnapcloneError('USAGE_BAD_NUMBER', `${optionName}: "${text}" is not a whole number from ${min} to ${max}`, {
      kind: 'usage',
    });
  }
  return v;
}

/** Seconds as a positive decimal number ("60", "0.5"), at most a day. */
export function parseSeconds(text: string, optionName: string): number {
  const v = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!(v > 0 && v <= 86_400)) {
    throw new SnapcloneError('USAGE_BAD_NUMBER', `${optionName}: "${text}" is not a number of seconds from 0 to 86400`, { kind: 'usage' });
  }
  return v;
}
