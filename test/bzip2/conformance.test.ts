// The conformance vectors in ../shared/testdata/bzip2 (libbzip2 samples, lbzip2 tests, a generated
// randomised-block file): the outcome the spec (§6.2) requires, and the same output as the real
// bzip2, through decompressBuffer() and the stream with 1 thread, 2 threads and odd chunkings.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decompressBuffer } from '../../src/bzip2/decompress-buffer.js';
import type { Warning } from '../../src/core/errors.js';
import { HAVE_TESTDATA, testdataPath } from '../helpers/testdata.js';
import { chunk, decompressStream, runTool, sameBytes } from './support.js';

/** Spec §6.2: undefined = decodes; a code = must fail with it; 'garbage' = decodes with a warning. */
const EXPECTED: Record<string, string | undefined> = {
  '32767.bz2': undefined, // 32767 selectors
  'ch255.bz2': undefined, // 40 B -> 46.62 MB, runs of 259
  'codelen20.bz2': undefined,
  'concat.bz2': undefined, // 2 streams
  'empty.bz2': undefined,
  'fib.bz2': undefined,
  'repet.bz2': undefined,
  'idx899999.bz2': undefined, // origPtr = 899999
  'incomp-1.bz2': undefined,
  'incomp-2.bz2': undefined,
  'rand.bz2': undefined, // randomised block
  'randomised_gen.bz2': undefined, // 4 randomised blocks with flips
  'sample1.bz2': undefined,
  'sample2.bz2': undefined,
  'sample3.bz2': undefined,
  'gap.bz2': 'garbage',
  'trash.bz2': 'garbage',
  'crc1.bz2': 'BZ2_STREAM_CRC', // bad stream CRC
  'crc2.bz2': 'BZ2_BLOCK_CRC', // bad block CRC, stream CRC made from it
  'cve.bz2': 'BZ2_DATA', // run-length overflow
  'cve2.bz2': 'BZ2_DATA',
  'overrun.bz2': 'BZ2_DATA', // block longer than the level allows
  'overrun2.bz2': 'BZ2_DATA',
  'load0.bz2': 'BZ2_TRUNCATED',
  'trunc.bz2': 'BZ2_TRUNCATED',
  'void.bz2': 'BZ2_TRUNCATED', // 0 bytes: bzip2 says "ends unexpectedly"
  'concat_bzhjunk.bz2': 'BZ2_DATA', // "BZh9" + junk after a stream
};

describe.skipIf(!HAVE_TESTDATA)('bzip2 conformance vectors', () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`${name}: ${expected ?? 'decodes'}, as bzip2 does`, async () => {
      const input = new Uint8Array(readFileSync(testdataPath('bzip2', name)));
      const peer = await runTool('bzip2', ['-dc'], input);
      const refName = name.replace(/\.bz2$/, '.ref');
      const ref = name.startsWith('sample') || name.startsWith('randomised') ? new Uint8Array(readFileSync(testdataPath('bzip2', refName))) : undefined;

      const warnings: Warning[] = [];
      let output: Uint8Array | undefined;
      let code: string | undefined;
      try {
        output = decompressBuffer(input, { onWarning: (w) => warnings.push(w) });
      } catch (e) {
        code = (e as { code?: string }).code;
      }

      if (expected === undefined || expected === 'garbage') {
        expect(code).toBeUndefined();
        expect(peer.status).toBe(0);
        expect(sameBytes(output!, peer.stdout)).toBe(true);
        if (ref) expect(sameBytes(output!, ref)).toBe(true);
        expect(warnings.map((w) => w.code)).toEqual(expected === 'garbage' ? ['BZ2_TRAILING_GARBAGE'] : []);
        expect(peer.stderr.includes('trailing garbage')).toBe(expected === 'garbage');
      } else {
        expect(code).toBe(expected);
        expect(peer.status).toBe(2);
      }

      // The stream decoder agrees, whatever the threads and the chunking.
      const chunkings = input.length <= 4096 ? (['whole', 'bytes', { seed: 7, max: 13 }] as const) : (['whole', { seed: 7, max: 70000 }] as const);
      for (const threads of [1, 2]) {
        for (const how of chunkings) {
          const r = await decompressStream(chunk(input, how), threads);
          if (code === undefined) {
            expect(r.error).toBeUndefined();
            expect(sameBytes(r.output, output!)).toBe(true);
            expect(r.warnings.map((w) => w.code)).toEqual(warnings.map((w) => w.code));
          } else {
            expect(r.error?.code).toBe(code);
          }
        }
      }
    });
  }
});
