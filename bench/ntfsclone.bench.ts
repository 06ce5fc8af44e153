// save-image and restore-image against ntfsclone, as whole processes through the built CLI, on the
// same volume in the same run: a 1 GiB sparse NTFS volume with ~300 MB in use (files from /usr,
// random data, fragmented files), built once with mkntfs and ntfs-3g and cached under
// $SNAPCLONE_BENCH_DIR, and a 2 GiB volume holding 60,000 files (the MFT walk dominates). Prints
// wall-time ratios (mean and best) and each side's peak RSS.
// `npm run bench -- ntfsclone`; needs root, FUSE and ntfs-3g.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ensureBenchVolume, VOLUME_BYTES } from './bench-volume.js';
import { BENCH_DIR } from './sample-image.js';
import { compare, runProcess, type CaseTiming } from './support.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** A 2 GiB volume with 60,000 files (mostly resident): the MFT walk dominates its save. */
export function ensureManyFilesVolume(): string {
  mkdirSync(BENCH_DIR, { recursive: true });
  const volume = join(BENCH_DIR, 'ntfs-many.ntfs');
  const done = `${volume}.done`;
  if (existsSync(done)) return volume;
  rmSync(volume, { force: true });
  execFileSync('truncate', ['-s', String(2 * VOLUME_BYTES), volume]);
  execFileSync('mkntfs', ['-F', '-f', '-q', '-L', 'many', volume], { stdio: 'ignore' });
  const mnt = mkdtempSync(join(tmpdir(), 'snapclone-bench-mnt-'));
  execFileSync('ntfs-3g', [volume, mnt]);
  try {
    const big = Buffer.alloc(12000, 0x61);
    for (let d = 0; d < 120; d++) {
      const dir = join(mnt, `d${d}`);
      mkdirSync(dir);
      for (let i = 0; i < 500; i++) writeFileSync(join(dir, `f${i}`), i % 5 === 0 ? big : Buffer.from(`small file ${d}/${i}`));
    }
  } finally {
    execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
  writeFileSync(done, '');
  return volume;
}

/** Peak RSS in KiB of one run of a command, from /usr/bin/time -v. */
function peakRssKiB(file: string, args: string[]): number {
  const r = spawnSync('/usr/bin/time', ['-v', file, ...args], { encoding: 'utf8' });
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  return m ? Number(m[1]) : Number.NaN;
}

/**
 * The machine is shared: runs `a` and `b` alternately (order swapped every round) and returns the
 * best wall time of each, so both sides see the same background load.
 */
async function interleavedMinima(rounds: number, a: () => Promise<void>, b: () => Promise<void>): Promise<[number, number]> {
  let bestA = Infinity;
  let bestB = Infinity;
  const time = async (f: () => Promise<void>): Promise<number> => {
    const t = performance.now();
    await f();
    return (performance.now() - t) / 1000;
  };
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      bestA = Math.min(bestA, await time(a));
      bestB = Math.min(bestB, await time(b));
    } else {
      bestB = Math.min(bestB, await time(b));
      bestA = Math.min(bestA, await time(a));
    }
  }
  return [bestA, bestB];
}

function bestRatio(timings: CaseTiming[], name: string, baseline: string): string {
  const t = timings.find((x) => x.name === name);
  const b = timings.find((x) => x.name === baseline);
  return t && b ? (t.minSeconds / b.minSeconds).toFixed(2) : '?';
}

export async function run(): Promise<void> {
  const volume = ensureBenchVolume();
  const ours = join(BENCH_DIR, 'bench-ours.img');
  const theirs = join(BENCH_DIR, 'bench-theirs.img');
  execFileSync('ntfsclone', ['-q', '--save-image', '-O', theirs, volume], { stdio: 'ignore' });
  const imageBytes = statSync(theirs).size;
  console.log(`volume ${volume}: ${VOLUME_BYTES} bytes, image ${imageBytes} bytes`);

  const save = await compare(
    'save-image (1 GiB volume, ~300 MB used, to a file)',
    [
      { name: 'ntfsclone --save-image', fn: () => runProcess('ntfsclone', ['-q', '--save-image', '-O', theirs, volume]) },
      { name: 'snapclone save-image', fn: () => runProcess(process.execPath, [CLI, 'save-image', volume, '-o', ours, '--overwrite', '-q']) },
      { name: 'snapclone save-image --no-fs-check', fn: () => runProcess(process.execPath, [CLI, 'save-image', volume, '-o', ours, '--overwrite', '-q', '--no-fs-check']) },
    ],
    { baseline: 'ntfsclone --save-image', bytesPerRun: imageBytes, minSamples: 5, maxTimeSeconds: 30 },
  );
  console.log(`  best-of ratio: ${bestRatio(save, 'snapclone save-image', 'ntfsclone --save-image')}x`);

  const rawTheirs = join(BENCH_DIR, 'bench-theirs.raw');
  const rawOurs = join(BENCH_DIR, 'bench-ours.raw');
  const restore = await compare(
    'restore-image (to a sparse file)',
    [
      { name: 'ntfsclone --restore-image', fn: () => runProcess('ntfsclone', ['-q', '--restore-image', '-O', rawTheirs, theirs]) },
      { name: 'snapclone restore-image', fn: () => runProcess(process.execPath, [CLI, 'restore-image', theirs, rawOurs, '--overwrite', '-q']) },
    ],
    { baseline: 'ntfsclone --restore-image', bytesPerRun: imageBytes, minSamples: 5, maxTimeSeconds: 30 },
  );
  console.log(`  best-of ratio: ${bestRatio(restore, 'snapclone restore-image', 'ntfsclone --restore-image')}x`);

  const saveTheirs = (): Promise<void> => runProcess('ntfsclone', ['-q', '--save-image', '-O', theirs, volume]);
  const saveOurs = (): Promise<void> => runProcess(process.execPath, [CLI, 'save-image', volume, '-o', ours, '--overwrite', '-q']);
  const restoreTheirs = (): Promise<void> => runProcess('ntfsclone', ['-q', '--restore-image', '-O', rawTheirs, theirs]);
  const restoreOurs = (): Promise<void> => runProcess(process.execPath, [CLI, 'restore-image', theirs, rawOurs, '--overwrite', '-q']);
  const [st, so] = await interleavedMinima(7, saveTheirs, saveOurs);
  const [rt, ro] = await interleavedMinima(7, restoreTheirs, restoreOurs);
  const many = ensureManyFilesVolume();
  const [mt, mo] = await interleavedMinima(
    7,
    () => runProcess('ntfsclone', ['-q', '--save-image', '-O', theirs, many]),
    () => runProcess(process.execPath, [CLI, 'save-image', many, '-o', ours, '--overwrite', '-q']),
  );
  console.log('\ninterleaved, best of 7 (s):');
  console.log(`  save-image     ntfsclone ${st.toFixed(3)}  snapclone ${so.toFixed(3)}  ratio ${(so / st).toFixed(2)}x`);
  console.log(`  restore-image  ntfsclone ${rt.toFixed(3)}  snapclone ${ro.toFixed(3)}  ratio ${(ro / rt).toFixed(2)}x`);
  console.log(`  save-image, 60,000 files (MFT walk bound)  ntfsclone ${mt.toFixed(3)}  snapclone ${mo.toFixed(3)}  ratio ${(mo / mt).toFixed(2)}x`);

  console.log('\npeak RSS (KiB), one run each:');
  console.log(`  ntfsclone --save-image     ${peakRssKiB('ntfsclone', ['-q', '--save-image', '-O', theirs, volume])}`);
  console.log(`  snapclone save-image       ${peakRssKiB(process.execPath, [CLI, 'save-image', volume, '-o', ours, '--overwrite', '-q'])}`);
  console.log(`  ntfsclone --restore-image  ${peakRssKiB('ntfsclone', ['-q', '--restore-image', '-O', rawTheirs, theirs])}`);
  console.log(`  snapclone restore-image    ${peakRssKiB(process.execPath, [CLI, 'restore-image', theirs, rawOurs, '--overwrite', '-q'])}`);
  for (const p of [ours, rawTheirs, rawOurs]) rmSync(p, { force: true });
}
