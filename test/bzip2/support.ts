// Runners for the real bzip2 / lbzip2 / pbzip2 peers, which are the oracles, and for our streaming
// decoder over chunked input. The seeded inputs themselves are in support/inputs.ts.

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecompressStream } from '../../src/bzip2/decompress-stream.js';
import type { Warning } from '../../src/core/errors.js';
import { concatBytes, randomChunks } from './support/inputs.js';

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
  if (how === 'bytes') return Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
  return randomChunks(bytes, how.max, how.seed);
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
