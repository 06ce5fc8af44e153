// Test inputs for the bzip2 decoder tests (seeded, so failures reproduce) and runners for the real
// bzip2 / lbzip2 / pbzip2 peers, which are the oracles.

import { execFileSync, spawn } from 'node:child_process';
import { openSync, readSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecompressStream } from '../../src/bzip2/decompress-stream.js';
import type { Warning } from '../../src/core/errors.js';

/** mulberry32: a tiny seeded PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 256) | 0;
  return out;
}

export function textBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const words = ['the', 'volume', 'snapshot', 'cluster', 'bitmap', 'of', 'a', 'restore', 'NTFS', 'image', 'and', 'block', 'sector', 'is', 'to', 'backup'];
  const out = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const w = words[(r() * words.length) | 0]!;
    for (let k = 0; k < w.length && i < n; k++) out[i++] = w.charCodeAt(k);
    if (i < n) out[i++] = r() < 0.1 ? 10 : r() < 0.1 ? 46 : 32;
  }
  return out;
}

export function periodicBytes(n: number, period: number, seed: number): Uint8Array {
  const unit = randomBytes(period, seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = unit[i % period]!;
  return out;
}

/** Runs of 1..600 equal bytes: every RLE1 case (runs of 4..255 and longer ones split). */
export function runBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const len = r() < 0.5 ? 1 + ((r() * 8) | 0) : 1 + ((r() * 600) | 0);
    out.fill((r() * 4) | 0, i, Math.min(n, i + len));
    i += len;
  }
  return out;
}

/** A slice of the node executable: real program-binary bytes. */
export function binaryBytes(n: number, offset = 1 << 20): Uint8Array {
  const fd = openSync(process.execPath, 'r');
  try {
    const out = new Uint8Array(n);
    const got = readSync(fd, out, 0, n, offset);
    return out.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** An ntfsclone image of a fresh NTFS volume, made with the real mkntfs and ntfsclone. */
export function makeNtfscloneImage(dir: string, volumeBytes = 24 << 20): Uint8Array {
  const vol = join(dir, 'vol.ntfs');
  const img = join(dir, 'vol.img');
  writeFileSync(vol, '');
  execFileSync('truncate', ['-s', String(volumeBytes), vol]);
  execFileSync('mkntfs', ['-F', '-f', '-q', '-L', 'test', vol], { stdio: 'ignore' });
  execFileSync('ntfsclone', ['-q', '--save-image', '-O', img, vol], { stdio: 'ignore' });
  return new Uint8Array(readFileSync(img));
}

export interface ToolResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a peer with `input` on stdin. */
export function runTool(file: string, args: string[], input?: Uint8Array): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.stdin.on('error', () => {});
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.end(input ?? new Uint8Array(0));
  });
}

/** Compresses with a real peer: ['bzip2', '-9'], ['lbzip2', '-n2', '-5'], ['pbzip2', '-p2', '-9'], ... */
export async function compressWith(tool: string, args: string[], input: Uint8Array): Promise<Uint8Array> {
  const r = await runTool(tool, [...args, '-c'], input);
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${r.stderr}`);
  return new Uint8Array(r.stdout);
}

/** Splits `bytes` into pieces: 'whole', 1-byte pieces, or seeded random sizes up to `max`. */
export function chunk(bytes: Uint8Array, how: 'whole' | 'bytes' | { seed: number; max: number }): Uint8Array[] {
  if (how === 'whole') return [bytes];
  const out: Uint8Array[] = [];
  if (how === 'bytes') {
    for (let i = 0; i < bytes.length; i++) out.push(bytes.subarray(i, i + 1));
    return out;
  }
  const r = rng(how.seed);
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + ((r() * how.max) | 0);
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

export interface StreamResult {
  output: Uint8Array;
  error: (Error & { code?: string }) | undefined;
  warnings: Warning[];
}

/**
 * Runs createDecompressStream over the pieces; collects output (also what came before an error).
 * With threads > 1 the workers start at once (our test inputs are smaller than the default 1 MiB).
 */
export async function decompressStream(pieces: Uint8Array[], threads: number, options: { workersAfterBytes?: number } = {}): Promise<StreamResult> {
  const warnings: Warning[] = [];
  const out: Uint8Array[] = [];
  let error: StreamResult['error'];
  try {
    await pipeline(
      Readable.from(pieces.map((p) => Buffer.from(p.buffer, p.byteOffset, p.length))),
      createDecompressStream({ threads, onWarning: (w) => warnings.push(w), workersAfterBytes: 0, ...options }),
      new Writable({
        write(c: Buffer, _e, cb) {
          out.push(new Uint8Array(c));
          cb();
        },
      }),
    );
  } catch (e) {
    error = e as StreamResult['error'];
  }
  return { output: concatBytes(...out), error, warnings };
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}
