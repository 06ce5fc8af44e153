// Decompression speed on the shared ntfsclone sample image compressed by C `bzip2 -9` (bit-aligned
// blocks: the parallel decoder needs its bit-level scanner) and by `pbzip2` (one stream per block):
// snapclone in-process and as a whole process, against C bzip2, lbzip2 -n2, seek-bzip and
// unbzip2-stream, all in the same run. Spec docs/spec/bzip2.md §4, §5.3.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createDecompressStream } from '../src/bzip2/decompress-stream.js';
import { decompressBuffer } from '../src/bzip2/decompress-buffer.js';
import { BENCH_DIR, ensureSampleImage } from './sample-image.js';
import { compare, runProcess, type BenchCase } from './support.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const require = createRequire(import.meta.url);
const seekBzip = require('seek-bzip') as { decode(input: Uint8Array, output?: unknown, multistream?: boolean): Buffer };
const unbzip2Stream = require('unbzip2-stream') as () => Duplex;

function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** Compresses the sample once with a real tool; cached beside it. */
function compressedSample(imagePath: string, name: string, tool: string, args: string[]): string {
  const path = join(BENCH_DIR, name);
  if (!existsSync(path)) execFileSync('bash', ['-c', `${tool} ${args.join(' ')} -c "${imagePath}" > "${path}.tmp" && mv "${path}.tmp" "${path}"`]);
  return path;
}

/** The stream over a file, output discarded (or hashed, to check it once before timing). */
async function streamThrough(path: string, threads: number, hash?: ReturnType<typeof createHash>): Promise<void> {
  const sink = hash
    ? new Writable({
        write(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          callback();
        },
      })
    : discard();
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), createDecompressStream({ threads }), sink);
}

export async function run(): Promise<void> {
  const sample = ensureSampleImage();
  const expected = md5(readFileSync(sample.imagePath));
  const files = {
    'bzip2 -9': compressedSample(sample.imagePath, 'sample.bzip2-9.bz2', 'bzip2', ['-9']),
    'pbzip2 -9': compressedSample(sample.imagePath, 'sample.pbzip2-9.bz2', 'pbzip2', ['-9', '-p2']),
  };

  for (const [label, path] of Object.entries(files)) {
    // A broken decoder must not look fast: check every in-process decoder's output once.
    const compressed = readFileSync(path);
    if (md5(decompressBuffer(compressed)) !== expected) throw new Error(`decompressBuffer is wrong on ${label}`);
    const hash = createHash('md5');
    await streamThrough(path, 2, hash);
    if (hash.digest('hex') !== expected) throw new Error(`createDecompressStream is wrong on ${label}`);
    const cases: BenchCase[] = [
      { name: 'C bzip2 -d', fn: () => runProcess('bzip2', ['-d', '-c', path]) },
      { name: 'lbzip2 -d -n2', fn: () => runProcess('lbzip2', ['-d', '-c', '-n2', path]) },
      { name: 'snapclone bzip2 -d -c (process)', fn: () => runProcess(process.execPath, [CLI, 'bzip2', '-d', '-c', path]) },
      { name: 'snapclone bzip2 -d -c --threads 1 (process)', fn: () => runProcess(process.execPath, [CLI, 'bzip2', '-d', '-c', '--threads', '1', path]) },
      { name: 'snapclone stream, 2 threads (in-process)', fn: () => streamThrough(path, 2) },
      { name: 'snapclone stream, 1 thread (in-process)', fn: () => streamThrough(path, 1) },
      { name: 'snapclone decompressBuffer (in-process)', fn: () => decompressBuffer(compressed) },
    ];
    if (label === 'bzip2 -9') {
      // The JS peers are slow; one file is enough to place them.
      cases.push(
        { name: 'seek-bzip (in-process)', fn: () => seekBzip.decode(compressed, undefined, true) },
        { name: 'unbzip2-stream (in-process)', fn: () => pipeline(createReadStream(path), unbzip2Stream(), discard()) },
      );
    }
    await compare(`bzip2 decompression of the ${(sample.imageBytes / 1e6).toFixed(1)} MB sample image made by ${label}`, cases, {
      baseline: 'C bzip2 -d',
      bytesPerRun: sample.imageBytes,
      minSamples: 5,
      maxTimeSeconds: 6,
    });
  }
}
