// The snapshot size policy: 10% of the LV, at least 256 MiB, capped at a full copy, whole extents,
// refused early with the numbers when the VG has no room. The full-copy cap is checked against
// lvcreate itself in test/e2e/lvm.test.ts.

import { describe, expect, it } from 'vitest';
import { fullCopySnapshotBytes, planSnapshotSize } from '../../src/lvm/snapshot-size.js';
import { SnapcloneError } from '../../src/core/errors.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const base = { vgName: 'vg0', lvName: 'web', extentSizeBytes: 4 * MiB };

describe('planSnapshotSize', () => {
  it('takes 10% of a large LV, rounded up to whole extents', () => {
    const plan = planSnapshotSize({ ...base, lvSizeBytes: 100 * GiB + 1, vgFreeBytes: 50 * GiB });
    expect(plan.basis).toBe('default');
    expect(plan.sizeBytes % (4 * MiB)).toBe(0);
    expect(plan.sizeBytes).toBeGreaterThanOrEqual((100 * GiB + 1) / 10);
    expect(plan.sizeBytes - (100 * GiB + 1) / 10).toBeLessThan(4 * MiB);
    expect(plan.extents).toBe(plan.sizeBytes / (4 * MiB));
  });

  it('takes at least 256 MiB', () => {
    expect(planSnapshotSize({ ...base, lvSizeBytes: 1 * GiB, vgFreeBytes: 10 * GiB })).toEqual({ sizeBytes: 256 * MiB, extents: 64, basis: 'default' });
  });

  it('never takes more than a full copy needs (what lvcreate reduces a request to)', () => {
    const plan = planSnapshotSize({ ...base, lvSizeBytes: 64 * MiB, vgFreeBytes: 10 * GiB });
    expect(plan).toEqual({ sizeBytes: 68 * MiB, extents: 17, basis: 'full-copy' });
    expect(fullCopySnapshotBytes(64 * MiB)).toBeGreaterThan(64 * MiB);
    expect(fullCopySnapshotBytes(64 * MiB)).toBeLessThanOrEqual(68 * MiB);
  });

  it('honours --snapshot-size, rounded up to extents', () => {
    expect(planSnapshotSize({ ...base, lvSizeBytes: 100 * GiB, vgFreeBytes: 10 * GiB, requestedBytes: 10 * MiB + 1 })).toEqual({
      sizeBytes: 12 * MiB,
      extents: 3,
      basis: 'requested',
    });
  });

  it('refuses a VG without room with the numbers and the largest size that fits', () => {
    let error: SnapcloneError | undefined;
    try {
      planSnapshotSize({ ...base, lvSizeBytes: 20 * GiB, vgFreeBytes: 1 * GiB + 3 * MiB });
    } catch (e) {
      error = e as SnapcloneError;
    }
    expect(error?.code).toBe('LVM_NO_SPACE');
    expect(error?.kind).toBe('refused');
    expect(error?.expected).toBe(`${2048 * MiB} bytes free`);
    expect(error?.actual).toBe(`${1 * GiB + 3 * MiB} bytes free`);
    expect(error?.hint).toContain('--snapshot-size 1024M');
  });

  it('refuses an explicit size larger than the free space too', () => {
    expect(() => planSnapshotSize({ ...base, lvSizeBytes: 20 * GiB, vgFreeBytes: 8 * MiB, requestedBytes: 12 * MiB })).toThrow(
      expect.objectContaining({ code: 'LVM_NO_SPACE' }),
    );
    expect(() => planSnapshotSize({ ...base, lvSizeBytes: 20 * GiB, vgFreeBytes: 0 })).toThrow(expect.objectContaining({ code: 'LVM_NO_SPACE' }));
  });

  it('rejects nonsense inputs with codes', () => {
    expect(() => planSnapshotSize({ ...base, lvSizeBytes: GiB, vgFreeBytes: GiB, requestedBytes: 0 })).toThrow(expect.objectContaining({ code: 'USAGE_BAD_SIZE' }));
    expect(() => planSnapshotSize({ ...base, extentSizeBytes: 0, lvSizeBytes: GiB, vgFreeBytes: GiB })).toThrow(expect.objectContaining({ code: 'LVM_BAD_REPORT' }));
  });
});
