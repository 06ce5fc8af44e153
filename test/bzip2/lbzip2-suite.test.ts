// Regression over lbzip2's fuzz corpus (tests/suite: fuzz-collect, fuzz-divbwt, manual-expand,
// manual-compress; 1,111 files): the same verdict and output as the real `bzip2 -dc` for each.
// The corpus is GPL-3 and never committed; fetch it with
//   git clone --depth 1 https://github.com/kjn/lbzip2 /tmp/lbzip2
// or point SNAPCLONE_LBZIP2_SUITE at its tests/suite folder. Skipped (loudly) when absent.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decompressBuffer } from '../../src/bzip2/decompress-buffer.js';
import { chunk, decompressStream, runTool, sameBytes } from './support.js';

const SUITE = process.env['SNAPCLONE_LBZIP2_SUITE'] ?? join(tmpdir(), 'lbzip2', 'tests', 'suite');
const HAVE_SUITE = existsSync(SUITE);
if (!HAVE_SUITE) {
  console.warn(`\n*** lbzip2 fuzz corpus not found at ${SUITE}: its regression test is SKIPPED (see test/bzip2/lbzip2-suite.test.ts) ***\n`);
}

describe.skipIf(!HAVE_SUITE)('lbzip2 fuzz corpus', () => {
  const groups = HAVE_SUITE ? readdirSync(SUITE).sort() : [];
  for (const group of groups) {
    it(`${group}: same verdict and output as bzip2`, async () => {
      const files = readdirSync(join(SUITE, group)).filter((f) => f.endsWith('.bz2')).sort();
      expect(files.length).toBeGreaterThan(0);
      const mismatches: string[] = [];
      for (let i = 0; i < files.length; i++) {
        const name = files[i]!;
        const input = new Uint8Array(readFileSync(join(SUITE, group, name)));
        const peer = await runTool('bzip2', ['-dc'], input);
        let output: Uint8Array | undefined;
        let code: string | undefined;
        try {
          output = decompressBuffer(input);
        } catch (e) {
          code = (e as { code?: string }).code;
          if (!code?.startsWith('BZ2_')) throw e;
        }
        if ((peer.status === 0) !== (code === undefined)) mismatches.push(`${name}: bzip2 status ${peer.status}, ours ${code ?? 'ok'}`);
        else if (output && !sameBytes(output, peer.stdout)) mismatches.push(`${name}: output differs`);
        if (i % 25 === 0) {
          const r = await decompressStream(chunk(input, { seed: i, max: 4000 }), 2);
          if (r.error?.code !== code) mismatches.push(`${name}: stream ${r.error?.code ?? 'ok'}, buffer ${code ?? 'ok'}`);
        }
      }
      expect(mismatches).toEqual([]);
    });
  }
});
