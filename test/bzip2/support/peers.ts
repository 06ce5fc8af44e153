// The real bzip2 programs (and two JS decoders) as oracles for the encoder tests.

import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { runCommand } from '../../helpers/cli.js';

export type Peer = 'bzip2' | 'lbzip2' | 'pbzip2';
export const PEERS: Peer[] = ['bzip2', 'lbzip2', 'pbzip2'];

/** Runs `program args` with `input` on stdin; rejects (with stderr) on a non-zero exit. */
export async function pipeThrough(program: string, args: string[], input: Uint8Array): Promise<Buffer> {
  const r = await runCommand(program, args, { input });
  if (r.status !== 0) throw new Error(`${program} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Decompresses with a real peer. */
export function peerDecompress(peer: Peer, compressed: Uint8Array): Promise<Buffer> {
  const args = peer === 'pbzip2' ? ['-d', '-c', '-p2'] : peer === 'lbzip2' ? ['-d', '-c', '-n2'] : ['-d', '-c'];
  return pipeThrough(peer, args, compressed);
}

/** What `bzip2 -<level>` writes for `input`. */
export function bzip2Compress(input: Uint8Array, level: number): Promise<Buffer> {
  return pipeThrough('bzip2', [`-${level}`, '-c'], input);
}

const require = createRequire(import.meta.url);

/** seek-bzip, reading every stream (spec §6.1: without multistream it silently stops early). */
export function seekBzipDecode(compressed: Uint8Array): Buffer {
  const Bunzip = require('seek-bzip') as { decode(input: Buffer, output: null, multistream: boolean): Buffer };
  return Bunzip.decode(Buffer.from(compressed), null, true);
}

/** unbzip2-stream, fed in 64 KiB pieces. */
export async function unbzip2StreamDecode(compressed: Uint8Array): Promise<Buffer> {
  const unbzip2 = require('unbzip2-stream') as () => NodeJS.ReadWriteStream;
  const out: Buffer[] = [];
  const pieces: Buffer[] = [];
  for (let i = 0; i < compressed.length; i += 65536) pieces.push(Buffer.from(compressed.subarray(i, i + 65536)));
  await new Promise<void>((resolve, reject) => {
    const s = Readable.from(pieces).pipe(unbzip2());
    s.on('data', (b: Buffer) => out.push(b));
    s.on('end', resolve);
    s.on('error', reject);
  });
  return Buffer.concat(out);
}

/** Block sizes and CRCs as `bzip2 -vvv` reports them ("block 1: crc = 0x..., ..., size = N"). */
export async function bzip2BlockReport(input: Uint8Array, level: number): Promise<{ crc: number; size: number }[]> {
  const r = await runCommand('bzip2', [`-${level}`, '-c', '-vvv'], { input });
  if (r.status !== 0) throw new Error(`bzip2 -vvv exited ${r.status}`);
  const blocks: { crc: number; size: number }[] = [];
  for (const m of r.stderr.matchAll(/block (\d+): crc = 0x([0-9a-f]+), combined CRC = 0x[0-9a-f]+, size = (\d+)/g)) {
    blocks.push({ crc: parseInt(m[2]!, 16), size: Number(m[3]) });
  }
  return blocks;
}
