// `snapclone bzip2 -d / -t` as a user runs it: files, stdout, stdin, exit statuses by error kind,
// the trailing-garbage warning, and no output file left behind on failure.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { concatBytes, textBytes } from './support/inputs.js';
import { compressWith, sameBytes } from './support.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let original: Uint8Array;
let compressed: Uint8Array;

beforeAll(async () => {
  tmp = await makeTempDir('snapclone-bz2-cli-');
  original = concatBytes(textBytes(250_000, 1), new Uint8Array(100_000), textBytes(50_000, 2));
  compressed = await compressWith('bzip2', ['-1'], original);
});
afterAll(() => tmp.cleanup());

describe('snapclone bzip2 -d / -t', () => {
  it('-d FILE.bz2 writes FILE and removes the input; -k keeps it', async () => {
    const a = join(tmp.dir, 'a.img.bz2');
    writeFileSync(a, compressed);
    const r = await runCli(['bzip2', '-d', a]);
    expect(r.status).toBe(0);
    expect(sameBytes(readFileSync(join(tmp.dir, 'a.img')), original)).toBe(true);
    expect(existsSync(a)).toBe(false);

    const b = join(tmp.dir, 'b.bz2');
    writeFileSync(b, compressed);
    const k = await runCli(['bzip2', '-dk', '--threads', '1', b]);
    expect(k.status).toBe(0);
    expect(sameBytes(readFileSync(join(tmp.dir, 'b')), original)).toBe(true);
    expect(existsSync(b)).toBe(true);
  });

  it('-dc from stdin to stdout, and -t, exit 0', async () => {
    const r = await runCli(['bzip2', '-dc'], { input: compressed });
    expect(r.status).toBe(0);
    expect(sameBytes(r.stdout, original)).toBe(true);
    const t = await runCli(['bzip2', '-t'], { input: compressed });
    expect(t.status).toBe(0);
    expect(t.stdout.length).toBe(0);
  });

  it('trailing garbage: a BZ2_TRAILING_GARBAGE warning, exit 0; -q silences it', async () => {
    const input = concatBytes(compressed, new TextEncoder().encode('not bzip2'));
    const r = await runCli(['bzip2', '-dc'], { input });
    expect(r.status).toBe(0);
    expect(sameBytes(r.stdout, original)).toBe(true);
    expect(r.stderr).toContain('BZ2_TRAILING_GARBAGE');
    const q = await runCli(['bzip2', '-tq'], { input });
    expect(q.status).toBe(0);
    expect(q.stderr).not.toContain('BZ2_TRAILING_GARBAGE');
  });

  it('exit statuses: 3 for damaged or truncated data, 7 for a CRC mismatch', async () => {
    const truncated = compressed.subarray(0, compressed.length - 100);
    const t = await runCli(['bzip2', '-t'], { input: truncated });
    expect(t.status).toBe(3);
    expect(t.stderr).toContain('BZ2_TRUNCATED');

    const notBzip2 = await runCli(['bzip2', '-t'], { input: new TextEncoder().encode('hello') });
    expect(notBzip2.status).toBe(3);
    expect(notBzip2.stderr).toContain('BZ2_BAD_MAGIC');

    // The stream CRC is the last 32 bits before the padding of the final byte.
    const badCrc = compressed.slice();
    badCrc[badCrc.length - 2]! ^= 0x10;
    const c = await runCli(['bzip2', '-t'], { input: badCrc });
    expect(c.status).toBe(7);
    expect(c.stderr).toContain('BZ2_STREAM_CRC');
  });

  it('a failed -d leaves no output file behind and keeps the input', async () => {
    const bad = join(tmp.dir, 'bad.bz2');
    writeFileSync(bad, compressed.subarray(0, compressed.length - 50));
    const r = await runCli(['bzip2', '-d', bad]);
    expect(r.status).toBe(3);
    expect(existsSync(join(tmp.dir, 'bad'))).toBe(false);
    expect(existsSync(bad)).toBe(true);
  });
});
