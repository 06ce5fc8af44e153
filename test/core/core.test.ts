import { describe, expect, it } from 'vitest';
import { SnapcloneError } from '../../src/core/errors.js';
import { readExactly, MemoryReadAt, SliceReadAt } from '../../src/core/read-at.js';
import { formatBytes, formatDuration, parseIntegerOption, parseSizeBytes } from '../../src/core/units.js';
import { crc32Ieee } from '../../src/core/crc32-ieee.js';
import { isAllZero, readI64Safe, readU64Safe, viewOf } from '../../src/core/bytes.js';

describe('SnapcloneError', () => {
  it('carries code, kind and offset, and names them in the message', () => {
    const e = new SnapcloneError('IMG_BAD_MAGIC', 'not an ntfsclone image', {
      byteOffset: 0x10,
      expected: 'NUL "ntfsclone-image"',
      actual: 'BZh9',
    });
    expect(e.code).toBe('IMG_BAD_MAGIC');
    expect(e.kind).toBe('input');
    expect(e.byteOffset).toBe(16);
    expect(e.message).toContain('0x10 (16)');
    expect(e.message).toContain('expected NUL "ntfsclone-image"');
    expect(e.message).toContain('found BZh9');
  });

  it('withPath adds the file once and keeps the code', () => {
    const e = new SnapcloneError('X', 'broken', { byteOffset: 3 }).withPath('/tmp/a.img');
    expect(e.code).toBe('X');
    expect(e.path).toBe('/tmp/a.img');
    expect(e.message).toBe('broken [file /tmp/a.img, at byte 0x3 (3)]');
  });
});

describe('units', () => {
  it('parses LVM-style sizes', () => {
    expect(parseSizeBytes('256M', '--x')).toBe(256 * 1024 * 1024);
    expect(parseSizeBytes('1.5g', '--x')).toBe(1.5 * 1024 ** 3);
    expect(parseSizeBytes('8s', '--x')).toBe(4096);
    expect(parseSizeBytes('4096', '--x')).toBe(4096);
    expect(() => parseSizeBytes('12 parsecs', '--x')).toThrow(/cannot read/);
    try {
      parseSizeBytes('-1M', '--snapshot-size');
    } catch (e) {
      expect((e as SnapcloneError).code).toBe('USAGE_BAD_SIZE');
      expect((e as SnapcloneError).kind).toBe('usage');
    }
  });
  it('parses bounded integers', () => {
    expect(parseIntegerOption('9', '-l', 1, 9)).toBe(9);
    expect(() => parseIntegerOption('10', '-l', 1, 9)).toThrow(SnapcloneError);
    expect(() => parseIntegerOption('1.5', '-l', 1, 9)).toThrow(SnapcloneError);
  });
  it('formats sizes and durations', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(300 * 1024 ** 2)).toBe('300 MiB');
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
  });
});

describe('crc32Ieee', () => {
  it('has the standard check value', () => {
    expect(crc32Ieee(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
  it('continues over pieces', () => {
    const all = new TextEncoder().encode('123456789');
    expect(crc32Ieee(all.subarray(4), crc32Ieee(all.subarray(0, 4)))).toBe(0xcbf43926);
  });
});

describe('bytes', () => {
  it('narrows 64-bit values with a range check', () => {
    const b = new Uint8Array(16);
    const v = viewOf(b);
    v.setBigUint64(0, 2n ** 60n, true);
    v.setBigInt64(8, -5n, true);
    expect(() => readU64Safe(v, 0, 'T_BIG', 'field')).toThrow(/too large/);
    expect(readI64Safe(v, 8, 'T', 'gap')).toBe(-5);
  });
  it('isAllZero checks every byte, aligned or not', () => {
    const b = new Uint8Array(4099);
    expect(isAllZero(b)).toBe(true);
    expect(isAllZero(b.subarray(1))).toBe(true);
    b[4098] = 1;
    expect(isAllZero(b)).toBe(false);
    expect(isAllZero(b.subarray(3))).toBe(false);
    b[4098] = 0;
    b[2000] = 7;
    expect(isAllZero(b)).toBe(false);
  });
});

describe('ReadAt helpers', () => {
  it('slices a window and reports truncation with the offset', async () => {
    const mem = new MemoryReadAt(Uint8Array.from({ length: 100 }, (_, i) => i));
    const slice = new SliceReadAt(mem, 10, 20);
    const got = await readExactly(slice, 5, 10, 'T', 'thing');
    expect([...got]).toEqual([15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    await expect(readExactly(slice, 15, 10, 'T_TRUNC', 'thing')).rejects.toMatchObject({ code: 'T_TRUNC', byteOffset: 20 });
  });
});
