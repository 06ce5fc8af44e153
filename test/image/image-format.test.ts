// The ntfsclone image format on its own: header golden bytes, encoder/decoder round trips under
// any chunking, the forms real ntfsclone accepts (negative and split gaps, other data offsets,
// 10.x minors, trailing bytes, 10.0 images without the last chunk) and every way an image can be
// broken, each with its code and byte offset.

import { describe, expect, it } from 'vitest';
import { SnapcloneError } from '../../src/core/errors.js';
import { MemoryReadAt } from '../../src/core/read-at.js';
import { ImageDecoder, type DecodeSummary } from '../../src/image/image-decoder.js';
import { encodeImage, imageSizeBytes } from '../../src/image/image-encoder.js';
import { decodeImageHeader, encodeImageHeader, type ImageHeader } from '../../src/image/image-header.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
}

/** xorshift32, for reproducible "random" tests. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

type Cmd = { next: Uint8Array } | { gap: number } | { raw: Uint8Array };

function header(h: Partial<ImageHeader> & { cluster_size: number; nr_clusters: number; device_size: number }): Uint8Array {
  const out = encodeImageHeader({ inuse: 0, ...h });
  const v = new DataView(out.buffer);
  if (h.major_ver !== undefined) out[16] = h.major_ver;
  if (h.minor_ver !== undefined) out[17] = h.minor_ver;
  if (h.offset_to_image_data !== undefined) v.setUint32(46, h.offset_to_image_data, true);
  return out;
}

function image(head: Uint8Array, cmds: Cmd[]): Uint8Array {
  const parts: Uint8Array[] = [head];
  for (const c of cmds) {
    if ('next' in c) parts.push(Uint8Array.of(1), c.next);
    else if ('gap' in c) {
      const g = new Uint8Array(9);
      new DataView(g.buffer).setBigInt64(1, BigInt(c.gap), true);
      parts.push(g);
    } else parts.push(c.raw);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** Decodes `img` in the given chunk sizes into a volume buffer; returns it with the summary. */
function decode(img: Uint8Array, chunkSizes: (i: number) => number = () => img.byteLength, volumeBytes = 1 << 16) {
  const volume = new Uint8Array(volumeBytes);
  let end = 0;
  const warnings: string[] = [];
  const d = new ImageDecoder(
    {
      data(off, bytes) {
        volume.set(bytes, off);
        end = Math.max(end, off + bytes.byteLength);
      },
    },
    (w) => warnings.push(w.code),
  );
  for (let pos = 0, i = 0; pos < img.byteLength; i++) {
    const n = Math.max(1, chunkSizes(i));
    d.push(img.subarray(pos, pos + n));
    pos += n;
  }
  const summary: DecodeSummary = d.end();
  return { volume: volume.subarray(0, end), summary, warnings };
}

function codeOf(fn: () => unknown): { code: string; byteOffset: unknown } {
  try {
    fn();
  } catch (e) {
    if (e instanceof SnapcloneError) return { code: e.code, byteOffset: e.byteOffset };
    throw e;
  }
  return { code: 'none', byteOffset: undefined };
}

const CS = 512;
const cluster = (fill: number, len = CS): Uint8Array => new Uint8Array(len).fill(fill);

describe('image header', () => {
  it('encodes the bytes ntfsclone writes (spec §1 golden)', () => {
    const h = encodeImageHeader({ cluster_size: 4096, device_size: 67108864, nr_clusters: 16383, inuse: 625 });
    expect(h).toEqual(
      hex(`006e 7466 7363 6c6f 6e65 2d69 6d61 6765 0a01 0010 0000 0000 0004 0000 0000 ff3f
           0000 0000 0000 7102 0000 0000 0000 3800 0000 0000 0000 0000`),
    );
    expect(decodeImageHeader(h)).toEqual({
      major_ver: 10,
      minor_ver: 1,
      cluster_size: 4096,
      device_size: 67108864,
      nr_clusters: 16383,
      inuse: 625,
      offset_to_image_data: 56,
    });
  });

  it('rejects bad magic, other major versions and impossible geometry', () => {
    const good = header({ cluster_size: 4096, nr_clusters: 10, device_size: 41472 });
    const bad = (patch: (b: Uint8Array, v: DataView) => void): string => {
      const b = good.slice();
      patch(b, new DataView(b.buffer));
      return codeOf(() => decodeImageHeader(b)).code;
    };
    expect(bad((b) => (b[3] = 0x78))).toBe('IMG_BAD_MAGIC');
    expect(bad((b) => b.set([0x42, 0x5a, 0x68, 0x39]))).toBe('IMG_BAD_MAGIC');
    expect(bad((b) => (b[16] = 11))).toBe('IMG_UNSUPPORTED_VERSION');
    expect(bad((b) => (b[16] = 9))).toBe('IMG_UNSUPPORTED_VERSION');
    expect(bad((b) => (b[17] = 9))).toBe('none'); // the minor version is never checked
    expect(bad((_b, v) => v.setUint32(18, 0, true))).toBe('IMG_BAD_HEADER');
    expect(bad((_b, v) => v.setUint32(18, 3000, true))).toBe('IMG_BAD_HEADER');
    expect(bad((_b, v) => v.setUint32(18, 4 << 20, true))).toBe('IMG_BAD_HEADER');
    expect(bad((_b, v) => v.setBigInt64(30, -1n, true))).toBe('IMG_BAD_HEADER');
    expect(bad((_b, v) => v.setBigInt64(30, 1n << 62n, true))).toBe('IMG_BAD_HEADER');
    expect(bad((_b, v) => v.setBigUint64(22, 100n, true))).toBe('IMG_BAD_HEADER');
    expect(codeOf(() => decodeImageHeader(good.subarray(0, 49))).code).toBe('IMG_TRUNCATED');
    expect(codeOf(() => decodeImageHeader(good.subarray(0, 49))).byteOffset).toBe(49);
  });
});

describe('image body', () => {
  // 8 clusters of 512 bytes, device 8*512+300: the last chunk (cluster 8) is 300 bytes.
  const geometry = { cluster_size: CS, nr_clusters: 8, device_size: 8 * CS + 300 };
  const valid = image(header(geometry), [
    { next: cluster(1) },
    { next: cluster(2) },
    { gap: 3 },
    { next: cluster(6) },
    { gap: 2 },
    { next: cluster(9, 300) },
  ]);

  it('decodes GAP/NEXT and the partial last chunk, whatever the chunking', () => {
    const whole = decode(valid);
    expect(whole.volume.byteLength).toBe(8 * CS + 300);
    expect(whole.volume[0]).toBe(1);
    expect(whole.volume[CS]).toBe(2);
    expect(whole.volume[2 * CS]).toBe(0);
    expect(whole.volume[5 * CS]).toBe(6);
    expect(whole.volume[8 * CS + 299]).toBe(9);
    expect(whole.summary).toMatchObject({ clusters: 4, gaps: 2, imageBytes: valid.byteLength, trailingBytes: 0, noBackupBootSector: false });
    expect(decode(valid, () => 1).volume).toEqual(whole.volume);
    const r = rng(7);
    for (let k = 0; k < 20; k++) expect(decode(valid, () => r() % 700).volume).toEqual(whole.volume);
  });

  it('accepts what ntfsclone accepts: negative and split gaps, other data offsets, trailing bytes', () => {
    const reference = decode(valid).volume;
    // --rescue form: cluster 5 first, then a negative gap back to 0.
    const rescue = image(header(geometry), [
      { gap: 5 },
      { next: cluster(6) },
      { gap: -6 },
      { next: cluster(1) },
      { next: cluster(2) },
      { gap: 1 },
      { gap: 2 },
      { next: cluster(6) },
      { gap: -1 },
      { gap: 3 },
      { next: cluster(9, 300) },
    ]);
    expect(decode(rescue).volume).toEqual(reference);
    // offset_to_image_data 64 with 14 bytes of garbage, and 50 (body right after the struct).
    const body = valid.subarray(56);
    const at64 = image(header({ ...geometry, offset_to_image_data: 64 }).subarray(0, 50), [{ raw: new Uint8Array(14).fill(0xee) }, { raw: body }]);
    expect(decode(at64).volume).toEqual(reference);
    const at50 = image(header({ ...geometry, offset_to_image_data: 50 }).subarray(0, 50), [{ raw: body }]);
    expect(decode(at50).volume).toEqual(reference);
    // Trailing garbage is ignored and counted.
    const trailing = image(valid, [{ raw: new Uint8Array(1600).fill(7) }]);
    const t = decode(trailing, () => 1000);
    expect(t.volume).toEqual(reference);
    expect(t.summary.trailingBytes).toBe(1600);
    expect(t.summary.imageBytes).toBe(valid.byteLength);
    // Minor version 9.
    const minor9 = valid.slice();
    minor9[17] = 9;
    expect(decode(minor9).volume).toEqual(reference);
  });

  it('accepts a 10.0 image that ends at cluster nr_clusters without the last chunk, with a warning', () => {
    const v10 = image(header({ ...geometry, minor_ver: 0 }), [{ next: cluster(1) }, { next: cluster(2) }, { gap: 3 }, { next: cluster(6) }, { gap: 2 }]);
    const r = decode(v10);
    expect(r.summary.noBackupBootSector).toBe(true);
    expect(r.warnings).toEqual(['IMG_NO_BACKUP_BOOT_SECTOR']);
    expect(r.volume.byteLength).toBe(6 * CS);
  });

  it('rejects gap 0, gaps outside the volume and bad command bytes at their offsets', () => {
    const h = header(geometry);
    const first = 56; // offset of the first command
    expect(codeOf(() => decode(image(h, [{ gap: 0 }])))).toEqual({ code: 'IMG_ZERO_GAP', byteOffset: first });
    expect(codeOf(() => decode(image(h, [{ next: cluster(1) }, { gap: 8 }])))).toEqual({ code: 'IMG_GAP_OUT_OF_RANGE', byteOffset: first + 1 + CS });
    expect(codeOf(() => decode(image(h, [{ next: cluster(1) }, { gap: -2 }])))).toEqual({ code: 'IMG_GAP_OUT_OF_RANGE', byteOffset: first + 1 + CS });
    expect(codeOf(() => decode(image(h, [{ gap: 2 ** 62 }])))).toEqual({ code: 'IMG_GAP_OUT_OF_RANGE', byteOffset: first });
    expect(codeOf(() => decode(image(h, [{ next: cluster(1) }, { raw: Uint8Array.of(2) }])))).toEqual({ code: 'IMG_BAD_COMMAND', byteOffset: first + 1 + CS });
    expect(codeOf(() => decode(image(h, [{ raw: Uint8Array.of(0xff) }])))).toEqual({ code: 'IMG_BAD_COMMAND', byteOffset: first });
    expect(codeOf(() => decode(new Uint8Array(0))).code).toBe('IMG_TRUNCATED');
  });

  it('reports truncation at every byte where the image can be cut (except the 10.0 ending)', () => {
    const lastChunkAt = valid.byteLength - 301; // the NEXT of cluster 8
    for (let cut = 0; cut < valid.byteLength; cut++) {
      const r = codeOf(() => decode(valid.subarray(0, cut)));
      if (cut === lastChunkAt) expect(r.code).toBe('none');
      else expect(r, `cut at ${cut}`).toEqual({ code: 'IMG_TRUNCATED', byteOffset: cut });
    }
  });
});

describe('image encoder', () => {
  async function roundTrip(seed: number, cs: number, ncl: number, tail: number): Promise<void> {
    const r = rng(seed);
    const deviceSize = ncl * cs + tail;
    const disk = new Uint8Array(deviceSize);
    for (let i = 0; i < disk.byteLength; i += 4) disk[i] = r() & 0xff;
    const bitmap = new Uint8Array(Math.ceil((ncl + 1) / 8));
    let inuse = 0;
    for (let c = 0; c < ncl; c++) {
      if (c === 0 || r() % 3 === 0) {
        bitmap[c >>> 3]! |= 1 << (c & 7);
        inuse++;
      }
    }
    bitmap[ncl >>> 3]! |= 1 << (ncl & 7);
    const g = { clusterSize: cs, nrClusters: ncl, deviceSize };
    const chunks: Uint8Array[] = [];
    // Small chunks force every "does it still fit" branch.
    for await (const c of encodeImage(new MemoryReadAt(disk), g, bitmap, inuse, { chunkBytes: 3 * cs + 40 })) chunks.push(c);
    const img = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let o = 0;
    for (const c of chunks) {
      img.set(c, o);
      o += c.byteLength;
    }
    expect(img.byteLength).toBe(imageSizeBytes(g, bitmap));
    const h = decodeImageHeader(img);
    expect(h).toMatchObject({ cluster_size: cs, nr_clusters: ncl, device_size: deviceSize, inuse });
    const { volume } = decode(img, () => 1 + (r() % 5000), deviceSize);
    const lastLength = Math.min(cs, tail);
    expect(volume.byteLength).toBe(ncl * cs + lastLength);
    for (let c = 0; c <= ncl; c++) {
      const used = (bitmap[c >>> 3]! >> (c & 7)) & 1;
      const len = c === ncl ? lastLength : cs;
      const got = volume.subarray(c * cs, c * cs + len);
      if (used) expect(got).toEqual(disk.subarray(c * cs, c * cs + len));
      else expect(got.every((b) => b === 0)).toBe(true);
    }
  }

  it('round-trips through the decoder: partial, full and empty last chunks', async () => {
    await roundTrip(1, 512, 100, 300); // last chunk 300 bytes
    await roundTrip(2, 4096, 64, 4096 + 700); // device longer than NCL+1 clusters: tail not saved
    await roundTrip(3, 1024, 33, 0); // DEV == NCL*CS: a bare NEXT with no data
    await roundTrip(4, 2048, 257, 512);
  });
});

describe('hostile images (fuzz)', () => {
  it('flipped bytes in the header and body give SnapcloneErrors or a valid decode, nothing else', async () => {
    const cs = 512;
    const ncl = 40;
    const disk = new Uint8Array(ncl * cs + 200).map((_, i) => i * 7);
    const bitmap = new Uint8Array(Math.ceil((ncl + 1) / 8));
    for (const c of [0, 1, 2, 5, 6, 17, 30, 31, 39, 40]) bitmap[c >>> 3]! |= 1 << (c & 7);
    const parts: Uint8Array[] = [];
    for await (const c of encodeImage(new MemoryReadAt(disk), { clusterSize: cs, nrClusters: ncl, deviceSize: disk.byteLength }, bitmap, 9)) parts.push(c);
    const img = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let o = 0;
    for (const p of parts) {
      img.set(p, o);
      o += p.byteLength;
    }
    const r = rng(99);
    const seen = new Set<string>();
    for (let iter = 0; iter < 3000; iter++) {
      const bad = img.slice();
      const flips = 1 + (r() % 4);
      for (let k = 0; k < flips; k++) {
        // Mostly the header and the command bytes, where damage matters most.
        const at = r() % 2 === 0 ? r() % 56 : r() % bad.byteLength;
        bad[at] = r() & 0xff;
      }
      const cut = r() % 4 === 0 ? r() % bad.byteLength : bad.byteLength;
      let code = 'none';
      try {
        const d = new ImageDecoder({ data() {} });
        const input = bad.subarray(0, cut);
        for (let pos = 0; pos < input.byteLength; ) {
          const n = 1 + (r() % 900);
          d.push(input.subarray(pos, pos + n));
          pos += n;
        }
        d.end();
      } catch (e) {
        if (!(e instanceof SnapcloneError)) throw e;
        code = e.code;
      }
      seen.add(code);
    }
    for (const c of ['IMG_BAD_MAGIC', 'IMG_TRUNCATED', 'IMG_BAD_COMMAND', 'IMG_UNSUPPORTED_VERSION', 'IMG_BAD_HEADER']) expect(seen).toContain(c);
  });
});
