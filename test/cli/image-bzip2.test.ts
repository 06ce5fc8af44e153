// save-image and restore-image with bzip2 in-process: what the seed did with
// `ntfsclone -s -o - PART | bzip2 -2 > x.img.bz2` and `bunzip2 -c x.img.bz2 | ntfsclone -r -O PART -`,
// checked against those very pipelines; and damaged archives that must not restore.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, runCommand } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { fixtureVolume, HAVE_NTFSCLONE, ntfsclone } from '../helpers/ntfs-fixtures.js';

function errorCode(stderr: string): string | undefined {
  return /snapclone: error (\w+):/.exec(stderr)?.[1];
}

async function sh(script: string): Promise<Buffer> {
  const r = await runCommand('bash', ['-o', 'pipefail', '-c', script]);
  if (r.status !== 0) throw new Error(`${script}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(!HAVE_NTFSCLONE)('save-image / restore-image with bzip2', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  let volume = '';
  let reference = ''; // ntfsclone --save-image of the volume
  let referenceRaw = ''; // ntfsclone -r of it
  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('snapclone-image-bz2-'));
    volume = await fixtureVolume('c4k-many');
    reference = join(dir, 'ref.img');
    referenceRaw = join(dir, 'ref.raw');
    expect((await ntfsclone(['-q', '--save-image', '-O', reference, volume])).status).toBe(0);
    expect((await ntfsclone(['-q', '-r', '-O', referenceRaw, reference])).status).toBe(0);
  });
  afterAll(async () => cleanup());

  const noTemporaries = async (): Promise<void> => {
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  };

  it('-o x.img.bz2 decompresses with bzip2 to exactly what ntfsclone saves', async () => {
    const out = join(dir, 'ours.img.bz2');
    const r = await runCli(['save-image', volume, '-o', out, '--level', '2', '--threads', '2', '-q']);
    expect(r.status, r.stderr).toBe(0);
    expect((await readFile(out)).subarray(0, 4).toString('latin1')).toBe('BZh2');
    await sh(`bzip2 -dc '${out}' | cmp - '${reference}'`);
  });

  it('-o - --bzip2 writes a .bz2 stream to stdout', async () => {
    const r = await runCli(['save-image', volume, '-o', '-', '--bzip2', '--level', '1', '-q']);
    expect(r.status, r.stderr).toBe(0);
    const piped = join(dir, 'piped.img.bz2');
    await writeFile(piped, r.stdout);
    await sh(`bzip2 -dc '${piped}' | cmp - '${reference}'`);
  });

  it('refuses --level without compression', async () => {
    const r = await runCli(['save-image', volume, '-o', join(dir, 'plain.img'), '--level', '3', '-q']);
    expect([r.status, errorCode(r.stderr)]).toEqual([2, 'USAGE_NOT_COMPRESSED']);
  });

  it("restores the seed's `ntfsclone -s -o - | bzip2 -2` archive like `bunzip2 -c | ntfsclone -r`, from a file and from stdin", async () => {
    const seed = join(dir, 'seed.img.bz2');
    await sh(`ntfsclone -q -s -o - '${volume}' 2>/dev/null | bzip2 -2 > '${seed}'`);
    const fromFile = join(dir, 'from-file.raw');
    const r = await runCli(['restore-image', seed, fromFile, '-q']);
    expect(r.status, r.stderr).toBe(0);
    await sh(`cmp '${fromFile}' '${referenceRaw}'`);
    expect((await stat(fromFile)).size).toBe((await stat(referenceRaw)).size);
    const fromStdin = join(dir, 'from-stdin.raw');
    const s = await runCli(['restore-image', '-', fromStdin, '-q', '--threads', '1'], { input: await readFile(seed) });
    expect(s.status, s.stderr).toBe(0);
    await sh(`cmp '${fromStdin}' '${referenceRaw}'`);
  });

  it('real ntfsclone restores what snapclone compressed (through bunzip2)', async () => {
    const ours = join(dir, 'ours2.img.bz2');
    expect((await runCli(['save-image', volume, '-o', ours, '--level', '9', '-q'])).status).toBe(0);
    const raw = join(dir, 'by-ntfsclone.raw');
    await sh(`bunzip2 -c '${ours}' | ntfsclone -q -r -O '${raw}' - 2>/dev/null`);
    await sh(`cmp '${raw}' '${referenceRaw}'`);
  });

  it('a damaged archive restores nothing: bad block data, truncation, a bad stream CRC', async () => {
    const good = await readFile(join(dir, 'ours.img.bz2'));
    const cases: [string, Buffer, string[]][] = [];
    const flipped = Buffer.from(good);
    flipped[Math.floor(good.length / 2)]! ^= 0x10;
    cases.push(['flipped', flipped, ['BZ2_DATA', 'BZ2_BLOCK_CRC']]);
    cases.push(['truncated', good.subarray(0, good.length - 200), ['BZ2_TRUNCATED']]);
    // Our blocks are byte-aligned, so the stream ends with 6 magic bytes and the 4-byte stream CRC:
    // the image is complete before it, and only the final check can catch this one.
    const badCrc = Buffer.from(good);
    badCrc[good.length - 1]! ^= 0x01;
    cases.push(['stream CRC', badCrc, ['BZ2_STREAM_CRC']]);
    for (const [name, bytes, codes] of cases) {
      const archive = join(dir, `${name}.img.bz2`);
      await writeFile(archive, bytes);
      const target = join(dir, `${name}.raw`);
      const r = await runCli(['restore-image', archive, target, '-q']);
      const code = errorCode(r.stderr);
      expect(codes, `${name}: ${r.stderr}`).toContain(code);
      // Damaged data exits 3; a checksum mismatch exits 7 (README, exit statuses).
      expect(r.status, `${name}: ${r.stderr}`).toBe(code?.endsWith('_CRC') ? 7 : 3);
      expect((await readdir(dir)).includes(`${name}.raw`), name).toBe(false);
    }
    await noTemporaries();
  });

  it('info reads the header of a compressed image', async () => {
    const r = await runCli(['info', join(dir, 'ours.img.bz2'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout.toString()) as { kind: string; version: string; compressed?: string };
    expect(info.kind).toBe('ntfsclone-image');
    expect(info.version).toBe('10.1');
    expect(info.compressed).toBe('bzip2');
  });
});
