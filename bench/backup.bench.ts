// `snapclone backup` and `snapclone restore` against the seed's pipelines on the same volume in the same
// run: `ntfsclone --save-image -o - VOL | bzip2 -2 > f` and `bunzip2 -c f | ntfsclone -r -O raw -`.
// Two volumes: the shared sample (bench/sample-image.ts: 64 MiB NTFS, ~23 MB in use), where Node's
// fixed start-up (~0.15-0.2 s a process, against a 1.6 s job) shows, and a VM-sized one
// (bench/bench-volume.ts: 1 GiB, ~330 MB in use). snapclone does more in that time (MFT walk, SHA-256
// of every file, fsyncs, manifest, verification of each restored volume): the ratios are for the
// whole job. On the sample, the codec alone (`snapclone bzip2`) is timed beside it, to show how much of
// the difference is compression. Prints benny's means, interleaved best-of ratios and peak RSS.
// `npm run bench -- backup`; needs root, FUSE and ntfs-3g for the volumes.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBenchVolume } from './bench-volume.js';
import { BENCH_DIR, ensureSampleImage } from './sample-image.js';
import { compare, runProcess, runShell } from './support.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Best wall time of each function over `rounds`, run alternately (order swapped each round). */
async function interleavedMinima(rounds: number, fns: (() => Promise<void>)[]): Promise<number[]> {
  const best = fns.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    const order = fns.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) {
      const t = performance.now();
      await fns[i]!();
      best[i] = Math.min(best[i]!, (performance.now() - t) / 1000);
    }
  }
  return best;
}

function peakRssKiB(file: string, args: string[]): string {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', file, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const kib = Number(r.stderr.trim().split('\n').pop());
  return r.status === 0 && Number.isFinite(kib) ? `${kib} KiB` : 'unknown';
}

function onlySet(dest: string): string {
  const sets = readdirSync(dest).filter((n) => !n.startsWith('.'));
  if (sets.length !== 1) throw new Error(`expected one set in ${dest}, found ${sets.join(', ')}`);
  return join(dest, sets[0]!);
}

export async function run(): Promise<void> {
  const { volumePath, imagePath, imageBytes } = ensureSampleImage();
  const work = join(BENCH_DIR, 'backup-bench');
  rmSync(work, { recursive: true, force: true });
  const seedFile = join(work, 'seed.img.bz2');
  const seedRaw = join(work, 'seed.raw');
  const oursRaw = join(work, 'ours.raw');
  const state = join(work, 'state');
  const dest2 = join(work, 'sets-level2');
  const dest9 = join(work, 'sets-default');
  await runShell(`mkdir -p ${q(work)}`);
  console.log(`volume ${volumePath}: ${statSync(volumePath).size} bytes, ntfsclone image ${imageBytes} bytes; ${availableParallelism()} cores`);

  // benny calls each case once more than it measures, overlapping the first measured call: every
  // call writes its own outputs, so that overlapping calls cannot collide.
  let n = 0;
  const fresh = (name: string): string => join(work, `${name}-${n++}`);
  const seedSaveOf = (volume: string, out: string) => (): Promise<void> => runShell(`ntfsclone -q --save-image -o - ${q(volume)} 2>/dev/null | bzip2 -2 > ${q(out)}`);
  const seedSave = (out = seedFile): (() => Promise<void>) => seedSaveOf(volumePath, out);
  const oursSaveOf = (volume: string, dest: string, level?: number) => (): Promise<void> =>
    runProcess(process.execPath, [CLI, 'backup', volume, '--dest', dest, '--name', 'bench', '--keep', '1', '--state-dir', state, '-q', ...(level ? ['--level', String(level)] : [])]);
  const oursSave = (dest: string, level?: number): (() => Promise<void>) => oursSaveOf(volumePath, dest, level);
  const thenRemove = (make: (path: string) => () => Promise<void>, name: string) => async (): Promise<void> => {
    const path = fresh(name);
    await make(path)();
    rmSync(path, { recursive: true, force: true });
  };
  const codecAlone = (): Promise<void> => runProcess(process.execPath, [CLI, 'bzip2', '-2', '-c', imagePath]);

  await compare(
    'backup: the seed pipeline vs snapclone backup (a 64 MiB NTFS volume, ~23 MB in use)',
    [
      { name: 'ntfsclone -s -o - | bzip2 -2', fn: thenRemove((p) => seedSave(p), 'seed.bz2') },
      { name: 'snapclone backup (default -2)', fn: thenRemove((p) => oursSave(p), 'sets') },
      { name: 'snapclone backup --level 9', fn: thenRemove((p) => oursSave(p, 9), 'sets') },
      { name: 'snapclone bzip2 -2 (codec alone)', fn: codecAlone },
    ],
    { baseline: 'ntfsclone -s -o - | bzip2 -2', bytesPerRun: imageBytes, minSamples: 3, maxTimeSeconds: 20 },
  );
  await seedSave()();
  await oursSave(dest2)();
  await oursSave(dest9, 9)();
  const set2 = onlySet(dest2);
  const set9 = onlySet(dest9);
  const sizeOf = (set: string): number => readdirSync(set).reduce((sum, f) => sum + statSync(join(set, f)).size, 0);
  console.log(`  sizes: seed ${statSync(seedFile).size} bytes; snapclone set (default -2) ${sizeOf(set2)} bytes, --level 9 ${sizeOf(set9)} bytes (manifest included; a bare volume has no layout file)`);

  const seedRestoreOf = (file: string, out: string) => (): Promise<void> => runShell(`bunzip2 -c ${q(file)} | ntfsclone -q -r -O ${q(out)} - 2>/dev/null`);
  const seedRestore = (out = seedRaw): (() => Promise<void>) => seedRestoreOf(seedFile, out);
  const oursRestore = (set: string, out = oursRaw) => (): Promise<void> => runProcess(process.execPath, [CLI, 'restore', set, out, '--overwrite', '-q']);
  const codecDecode = (): Promise<void> => runProcess(process.execPath, [CLI, 'bzip2', '-d', '-c', seedFile]);
  await compare(
    'restore: the seed pipeline vs snapclone restore (to a sparse file)',
    [
      { name: 'bunzip2 -c | ntfsclone -r -O raw -', fn: thenRemove((p) => seedRestore(p), 'seed.raw') },
      { name: 'snapclone restore (default -2 set)', fn: thenRemove((p) => oursRestore(set2, p), 'ours.raw') },
      { name: 'snapclone restore (--level 9 set)', fn: thenRemove((p) => oursRestore(set9, p), 'ours.raw') },
      { name: 'snapclone bzip2 -d (codec alone)', fn: codecDecode },
    ],
    { baseline: 'bunzip2 -c | ntfsclone -r -O raw -', bytesPerRun: imageBytes, minSamples: 3, maxTimeSeconds: 20 },
  );

  const [s0, s1, s2, s3] = await interleavedMinima(5, [seedSave(), oursSave(dest2), oursSave(dest9, 9), codecAlone]);
  const [r0, r1, r2, r3] = await interleavedMinima(5, [seedRestore(), oursRestore(onlySet(dest2)), oursRestore(onlySet(dest9)), codecDecode]);
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
  console.log('\ninterleaved, best of 5 (s), ratio against the seed:');
  console.log(`  backup   seed ${s0!.toFixed(3)}  snapclone (default -2) ${s1!.toFixed(3)} (${ratio(s1!, s0!)})  --level 9 ${s2!.toFixed(3)} (${ratio(s2!, s0!)})  codec alone ${s3!.toFixed(3)} (${ratio(s3!, s0!)})`);
  console.log(`  restore  seed ${r0!.toFixed(3)}  snapclone (-2 set) ${r1!.toFixed(3)} (${ratio(r1!, r0!)})  (-9 set) ${r2!.toFixed(3)} (${ratio(r2!, r0!)})  codec alone ${r3!.toFixed(3)} (${ratio(r3!, r0!)})`);

  console.log('\npeak RSS, one run each:');
  console.log(`  bzip2 -2 (the seed's compressor)  ${peakRssKiB('bzip2', ['-2', '-c', imagePath])}`);
  console.log(`  snapclone backup                  ${peakRssKiB(process.execPath, [CLI, 'backup', volumePath, '--dest', dest2, '--name', 'bench', '--keep', '1', '--state-dir', state, '-q'])}`);
  console.log(`  snapclone restore                 ${peakRssKiB(process.execPath, [CLI, 'restore', onlySet(dest2), oursRaw, '--overwrite', '-q'])}`);

  // The same jobs on a VM-sized volume.
  const big = ensureBenchVolume();
  const bigSeed = join(work, 'big-seed.img.bz2');
  const bigDest = join(work, 'big-sets');
  await seedSaveOf(big, bigSeed)();
  await runProcess(process.execPath, [CLI, 'backup', big, '--dest', bigDest, '--name', 'big', '--keep', '1', '--state-dir', state, '-q']);
  const bigSet = onlySet(bigDest);
  const bigImageBytes = (JSON.parse(readFileSync(join(bigSet, 'manifest.json'), 'utf8')) as { partitions: { imageBytes: number }[] }).partitions[0]!.imageBytes;
  console.log(`\nvolume ${big}: ${statSync(big).size} bytes, ntfsclone image ${bigImageBytes} bytes`);
  await compare(
    'backup: the seed pipeline vs snapclone backup (a 1 GiB NTFS volume, ~330 MB in use)',
    [
      { name: 'ntfsclone -s -o - | bzip2 -2', fn: thenRemove((p) => seedSaveOf(big, p), 'big-seed.bz2') },
      { name: 'snapclone backup (default -2)', fn: thenRemove((p) => oursSaveOf(big, p), 'big-sets') },
    ],
    { baseline: 'ntfsclone -s -o - | bzip2 -2', bytesPerRun: bigImageBytes, minSamples: 2, maxTimeSeconds: 60 },
  );
  await compare(
    'restore: the seed pipeline vs snapclone restore (a 1 GiB NTFS volume, ~330 MB in use, to a sparse file)',
    [
      { name: 'bunzip2 -c | ntfsclone -r -O raw -', fn: thenRemove((p) => seedRestoreOf(bigSeed, p), 'big-seed.raw') },
      { name: 'snapclone restore (default -2 set)', fn: thenRemove((p) => oursRestore(bigSet, p), 'big-ours.raw') },
    ],
    { baseline: 'bunzip2 -c | ntfsclone -r -O raw -', bytesPerRun: bigImageBytes, minSamples: 2, maxTimeSeconds: 30 },
  );
  console.log('\npeak RSS on the 1 GiB volume, one run each:');
  console.log(`  snapclone backup                  ${peakRssKiB(process.execPath, [CLI, 'backup', big, '--dest', bigDest, '--name', 'big', '--keep', '1', '--state-dir', state, '-q'])}`);
  console.log(`  snapclone restore                 ${peakRssKiB(process.execPath, [CLI, 'restore', onlySet(bigDest), oursRaw, '--overwrite', '-q'])}`);
  rmSync(work, { recursive: true, force: true });
}
