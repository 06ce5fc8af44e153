// `snapclone bzip2` compressing, as a user runs it: files and stdin, -c/-k/-f, levels, threads.
// The real bzip2 is the oracle for what comes out.

import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressBuffer } from '../../src/bzip2/compress-buffer.js';
import { concatBytes, randomBytes, textBytes } from '../bzip2/support/inputs.js';
import { peerDecompress } from '../bzip2/support/peers.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
const input = concatBytes(textBytes(700_000, 31), randomBytes(150_000, 32), new Uint8Array(100_000));

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('snapclone-bzip2-cli-'));
});
afterAll(async () => {
  await cleanup();
});

describe('snapclone bzip2 (compress)', () => {
  it('-c FILE writes to stdout what compressBuffer writes, whatever --threads, and bzip2 reads it', async () => {
    const file = join(dir, 'a.bin');
    await writeFile(file, input);
    const expected = Buffer.from(compressBuffer(input, { level: 3 }));
    for (const threads of ['1', '2']) {
      const r = await runCli(['bzip2', '-3', '-c', '--threads', threads, file]);
      expect(r.status, r.stderr).toBe(0);
      expect(Buffer.compare(r.stdout, expected)).toBe(0);
    }
    expect(Buffer.compare(await peerDecompress('bzip2', expected), Buffer.from(input))).toBe(0);
    expect(existsSync(file)).toBe(true);
  });

  it('stdin to stdout, default level 9', async () => {
    const r = await runCli(['bzip2'], { input });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.subarray(0, 4).toString('latin1')).toBe('BZh9');
    expect(Buffer.compare(await peerDecompress('lbzip2', r.stdout), Buffer.from(input))).toBe(0);
  });

  it('FILE becomes FILE.bz2 (input removed), -k keeps it, an existing output needs -f', async () => {
    const file = join(dir, 'b.bin');
    await writeFile(file, input);
    let r = await runCli(['bzip2', '-1', file]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(file)).toBe(false);
    const out = await readFile(`${file}.bz2`);
    expect(Buffer.compare(await peerDecompress('pbzip2', out), Buffer.from(input))).toBe(0);

    await writeFile(file, input);
    r = await runCli(['bzip2', '-1', '-k', file]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('OUTPUT_EXISTS');
    expect(existsSync(file)).toBe(true);

    r = await runCli(['bzip2', '-1', '-k', '-f', file]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect(Buffer.compare(await readFile(`${file}.bz2`), out)).toBe(0);
  });

  it('rejects a bad --threads or --level with exit status 2', async () => {
    expect((await runCli(['bzip2', '--threads', '0', '-c'], { input })).status).toBe(2);
    expect((await runCli(['bzip2', '--level', '10', '-c'], { input })).status).toBe(2);
  });
});
