// Glue for the partition tests: read a layout from a file, apply one onto a file, and put a layout in
// the shape the sfdisk oracle helpers use.

import { open, truncate, writeFile } from 'node:fs/promises';
import { SourceFile } from '../../src/io/source-file.js';
import {
  applyLayout,
  decodeSavedLayout,
  encodeSavedLayout,
  readLayout,
  type ApplyLayoutOptions,
  type ApplyPlan,
  type DiskLayout,
  type ReadLayoutOptions,
} from '../../src/partition/index.js';
import type { OracleTable } from './sfdisk.js';

export async function readFileLayout(path: string, options: ReadLayoutOptions = {}): Promise<DiskLayout> {
  const f = await SourceFile.open(path);
  try {
    return await readLayout(f, options);
  } finally {
    await f.close();
  }
}

/** Creates a blank sparse file of `sizeBytes` and applies `layout` to it. */
export async function applyToBlankFile(layout: DiskLayout, path: string, sizeBytes: number, options: ApplyLayoutOptions = {}): Promise<ApplyPlan> {
  await writeFile(path, new Uint8Array(0));
  await truncate(path, sizeBytes);
  return applyToFile(layout, path, options);
}

export async function applyToFile(layout: DiskLayout, path: string, options: ApplyLayoutOptions = {}): Promise<ApplyPlan> {
  const f = await SourceFile.open(path, { writable: true });
  try {
    return await applyLayout(layout, f, options);
  } finally {
    await f.close();
  }
}

/** Through the saved-layout file format and back, as `layout save` + `layout apply` do. */
export async function throughFile(layout: DiskLayout): Promise<DiskLayout> {
  return decodeSavedLayout(encodeSavedLayout(layout));
}

export function toOracle(l: DiskLayout): OracleTable {
  const t: OracleTable = {
    label: l.label,
    id: l.id,
    sectorSize: l.sectorSize,
    partitions: l.partitions.map((p) => {
      const o: OracleTable['partitions'][number] = { number: p.number, start: p.startLba, size: p.sectorCount, type: p.type };
      if (p.bootable) o.bootable = true;
      if (p.name) o.name = p.name;
      if (p.uuid) o.uuid = p.uuid;
      if (p.attrs) o.attrs = p.attrs;
      return o;
    }),
  };
  if (l.gpt) {
    t.firstLba = l.gpt.firstUsableLba;
    t.lastLba = l.gpt.lastUsableLba;
  }
  return t;
}

export async function readBytes(path: string, byteOffset: number, length: number): Promise<Uint8Array> {
  const h = await open(path, 'r');
  try {
    const out = new Uint8Array(length);
    const { bytesRead } = await h.read(out, 0, length, byteOffset);
    return out.subarray(0, bytesRead);
  } finally {
    await h.close();
  }
}

/** Writes `bytes` into an existing file at `byteOffset` (boot code, a fake boot loader, corruption). */
export async function patchFile(path: string, byteOffset: number, bytes: Uint8Array): Promise<void> {
  const h = await open(path, 'r+');
  try {
    await h.write(bytes, 0, bytes.byteLength, byteOffset);
  } finally {
    await h.close();
  }
}

/** Deterministic pseudo-random bytes (xorshift32), for boot code and boot areas that must survive a round trip. */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** undefined when equal, else where the first difference is (fast on MiBs, unlike toEqual on typed arrays). */
export function firstDifference(a: Uint8Array, b: Uint8Array): string | undefined {
  if (Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))) return undefined;
  const n = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `first difference at byte ${i}: ${a[i]} vs ${b[i]}`;
  return `lengths differ: ${a.byteLength} vs ${b.byteLength}`;
}
