// bzip2 compression speed on the shared ~23 MB ntfsclone sample image: snapclone in-process (one
// thread and the worker pool) and as a whole process, against C bzip2 -9, lbzip2 -n2 -9 and
// compressjs, in the same run. Prints MB/s, wall-time ratios against bzip2 -9, and sizes.
// `npm run bench -- bzip2-compress`

import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { compressBuffer } from '../src/bzip2/compress-buffer.js';
import { createCompressStream } from '../src/bzip2/compress-stream.js';
import { ensureSampleImage, BENCH_DIR } from './sample-image.js';
import { compare, runProcess } from './support.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

async function streamToNowhere(path: string, threads: number): Promise<number> {
  let bytes = 0;
  await pipeline(
    createReadStream(path, { highWaterMark: 1 << 20 }),
    createCompressStream({ level: 9, threads }),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb();
      },
    }),
  );
  return bytes;
}

function compressjsCompress(input: Uint8Array): Uint8Array {
  const require = createRequire(import.meta.url);
  const Bzip2 = (require('compressjs') as { Bzip2: { compressFile(input: Uint8Array, out?: unknown, level?: number): Uint8Array } }).Bzip2;
  return Bzip2.compressFile(input, undefined, 9);
}

/**
 * One run of a whole process under GNU time (stdout discarded): wall, user and system CPU, peak
 * resident memory. The machine may be shared, so CPU time says more about efficiency than wall.
 */
function processStats(file: string, args: string[]): string {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', file, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const [wall, user, sys, kb] = (r.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  if (r.status !== 0 || kb === undefined || !Number.isFinite(kb)) return 'unknown';
  return `wall ${wall} s, user ${user} s, sys ${sys} s, peak RSS ${(kb / 1024).toFixed(0)} MB`;
}

export async function run(): Promise<void> {
  const { imagePath, imageBytes } = ensureSampleImage();
  const input = readFileSync(imagePath);
  console.log(`input: ${imagePath}, ${imageBytes} bytes; ${availableParallelism()} cores`);

  // Sizes first (and a check that every output is what it claims to be).
  const ours = compressBuffer(input, { level: 9 });
  const viaBzip2 = execFileSync('bzip2', ['-9', '-c', imagePath], { maxBuffer: 1 << 30 });
  const viaLbzip2 = execFileSync('lbzip2', ['-n2', '-9', '-c', imagePath], { maxBuffer: 1 << 30 });
  const back = execFileSync('bzip2', ['-dc'], { input: ours, maxBuffer: 1 << 30 });
  if (Buffer.compare(back, input) !== 0) throw new Error('snapclone output does not decompress to the input');
  const ratio = (n: number): string => `${n} bytes (${((100 * n) / imageBytes).toFixed(2)}% of input, ${(n / viaBzip2.length).toFixed(4)}x bzip2's)`;
  console.log(`snapclone -9: ${ratio(ours.length)}`);
  console.log(`bzip2 -9:     ${ratio(viaBzip2.length)}`);
  console.log(`lbzip2 -9:    ${ratio(viaLbzip2.length)}`);
  console.log(`snapclone bzip2 -9 -c:            ${processStats(process.execPath, [CLI, 'bzip2', '-9', '-c', imagePath])}`);
  console.log(`snapclone bzip2 -9 -c --threads 1: ${processStats(process.execPath, [CLI, 'bzip2', '-9', '-c', '--threads', '1', imagePath])}`);
  console.log(`bzip2 -9 -c:                      ${processStats('bzip2', ['-9', '-c', imagePath])}`);
  console.log(`lbzip2 -n2 -9 -c:                 ${processStats('lbzip2', ['-n2', '-9', '-c', imagePath])}`);

  const scratch = join(BENCH_DIR, 'bzip2-compress.out');
  await compare(
    'bzip2 -9 compression, sample image',
    [
      { name: 'bzip2 -9 (process)', fn: () => runProcess('bzip2', ['-9', '-c', imagePath], { outputPath: scratch }) },
      { name: 'lbzip2 -n2 -9 (process)', fn: () => runProcess('lbzip2', ['-n2', '-9', '-c', imagePath], { outputPath: scratch }) },
      { name: 'snapclone bzip2 -9 (process)', fn: () => runProcess(process.execPath, [CLI, 'bzip2', '-9', '-c', imagePath], { outputPath: scratch }) },
      { name: `snapclone stream, ${availableParallelism()} threads`, fn: () => streamToNowhere(imagePath, availableParallelism()) },
      { name: 'snapclone compressBuffer, 1 thread', fn: () => compressBuffer(input, { level: 9 }) },
    ],
    { baseline: 'bzip2 -9 (process)', bytesPerRun: imageBytes, minSamples: 5, maxTimeSeconds: 20 },
  );

  // compressjs takes about a minute per run: one sample, on its own.
  const cjs = compressjsCompress(input);
  console.log(`compressjs -9: ${ratio(cjs.length)}`);
  await compare(
    'bzip2 -9 compression, sample image, compressjs',
    [
      { name: 'bzip2 -9 (process)', fn: () => runProcess('bzip2', ['-9', '-c', imagePath], { outputPath: scratch }) },
      { name: 'compressjs Bzip2.compressFile', fn: () => compressjsCompress(input) },
    ],
    { baseline: 'bzip2 -9 (process)', bytesPerRun: imageBytes, minSamples: 1, maxTimeSeconds: 1 },
  );
}
