// The acceptance check against the real ntfsclone, shared by the generated-fixture and the
// Windows-volume test files: `snapclone save-image` must be cmp-identical with `ntfsclone
// --save-image` (to a file and to stdout), and `snapclone restore-image` must equal `ntfsclone -r`
// (bytes, length and allocated blocks; from a file, from stdin, and to stdout).

import { expect } from 'vitest';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI_PATH, runCli, runCommand } from './cli.js';
import { ntfsclone } from './ntfs-fixtures.js';

const CLI = `node ${JSON.stringify(CLI_PATH)}`;
const q = (s: string): string => JSON.stringify(s);

async function sameFile(a: string, b: string): Promise<boolean> {
  return (await runCommand('cmp', ['-s', a, b])).status === 0;
}

/**
 * The byte ranges of a file that hold data (not holes), from `filefrag -e` with adjacent extents
 * merged: what `stat %b` measures, without the file system's own metadata blocks, whose number
 * varies with how fragmented the free space happened to be.
 */
export async function dataRanges(path: string): Promise<string> {
  const r = await runCommand('filefrag', ['-e', '-b4096', path]);
  if (r.status !== 0) throw new Error(`filefrag failed: ${r.stderr}`);
  const ranges: [number, number][] = [];
  for (const line of r.stdout.toString().split('\n')) {
    const m = /^\s*\d+:\s+(\d+)\.\.\s*(\d+):/.exec(line);
    if (!m) continue;
    const start = Number(m[1]);
    const end = Number(m[2]) + 1;
    const last = ranges[ranges.length - 1];
    if (last && last[1] === start) last[1] = end;
    else ranges.push([start, end]);
  }
  return ranges.map(([a, b]) => `${a}-${b}`).join(',');
}

/** Runs every comparison for `volume`, with scratch files under `dir` named after `name`. */
export async function checkAgainstNtfsclone(volume: string, dir: string, name: string): Promise<void> {
  const base = join(dir, name.replace(/\W/g, '_'));
  const ref = `${base}.ref.img`;
  const ours = `${base}.ours.img`;
  const refRaw = `${base}.ref.raw`;
  const oursRaw = `${base}.ours.raw`;
  const stdinRaw = `${base}.stdin.raw`;
  const theirsFromOurs = `${base}.theirs.raw`;
  try {
    // Save: to a file, and to stdout.
    const r1 = await ntfsclone(['-q', '--save-image', '-O', ref, volume]);
    expect(r1.status, r1.stderr).toBe(0);
    const s1 = await runCli(['save-image', volume, '-o', ours, '-q']);
    expect(s1.status, s1.stderr).toBe(0);
    expect(await sameFile(ref, ours), 'save-image to a file').toBe(true);
    const s2 = await runCli(['save-image', volume, '-o', '-', '-q']);
    expect(s2.status, s2.stderr).toBe(0);
    expect(Buffer.compare(s2.stdout, await readFile(ref)), 'save-image to stdout').toBe(0);
    // The real parser accepts our image (a full decode, no output).
    const n = await ntfsclone(['-q', '-r', '-n', ours]);
    expect(n.status, n.stderr).toBe(0);

    // Restore ntfsclone's image, from a file and from stdin, and compare with ntfsclone -r.
    const r2 = await ntfsclone(['-q', '-r', '-O', refRaw, ref]);
    expect(r2.status, r2.stderr).toBe(0);
    const t1 = await runCli(['restore-image', ref, oursRaw, '-q']);
    expect(t1.status, t1.stderr).toBe(0);
    const t2 = await runCommand('bash', ['-c', `${CLI} restore-image - ${q(stdinRaw)} -q < ${q(ref)}`]);
    expect(t2.status, t2.stderr).toBe(0);
    const [sr, so, ss] = await Promise.all([stat(refRaw), stat(oursRaw), stat(stdinRaw)]);
    expect(so.size, 'restored length').toBe(sr.size);
    expect(ss.size, 'restored length (stdin)').toBe(sr.size);
    // Same holes: the same data ranges, and (give or take the file system's extent blocks) the
    // same allocated size.
    const refRanges = await dataRanges(refRaw);
    expect(await dataRanges(oursRaw), 'data ranges (holes)').toBe(refRanges);
    expect(await dataRanges(stdinRaw), 'data ranges (holes, stdin)').toBe(refRanges);
    expect(Math.abs(so.blocks - sr.blocks), 'allocated blocks').toBeLessThanOrEqual(64);
    expect(await sameFile(refRaw, oursRaw), 'restore-image to a file').toBe(true);
    expect(await sameFile(refRaw, stdinRaw), 'restore-image from stdin').toBe(true);
    await rm(stdinRaw);

    // Restore to stdout: the zero-filled raw volume, compared stream to stream.
    const t3 = await runCommand('bash', [
      '-o',
      'pipefail',
      '-c',
      `cmp <(ntfsclone -q -r -o - ${q(ref)} 2>/dev/null) <(${CLI} restore-image ${q(ref)} - -q)`,
    ]);
    expect(t3.status, `restore-image to stdout: ${t3.stdout.toString()} ${t3.stderr}`).toBe(0);

    // Real ntfsclone restores our image to the same volume.
    const r3 = await ntfsclone(['-q', '-r', '-O', theirsFromOurs, ours]);
    expect(r3.status, r3.stderr).toBe(0);
    expect(await sameFile(refRaw, theirsFromOurs), 'ntfsclone -r of our image').toBe(true);
  } finally {
    await Promise.all([ref, ours, refRaw, oursRaw, stdinRaw, theirsFromOurs].map((p) => rm(p, { force: true })));
  }
}
