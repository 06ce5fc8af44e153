// The fill watcher's verdicts and timing. The readings come from a script here; the same watcher
// reading real snapshots through lvs is tested in the VM (test/e2e/lvm.test.ts).

import { describe, expect, it } from 'vitest';
import { judgeSnapshotFill, SnapshotWatcher, watchSnapshot } from '../../src/lvm/snapshot-watcher.js';
import type { SnapshotState } from '../../src/lvm/snapshot.js';

const MiB = 1024 * 1024;
const policy = { snapshot: 'vg0/snapclone-web-x', sizeBytes: 8 * MiB, abortAtPercent: 90, intervalMs: 5000 };
const at = (fillPercent: number, invalid = false): SnapshotState => ({ exists: true, fillPercent, invalid });

describe('judgeSnapshotFill', () => {
  it('lets a snapshot below the limit go on', () => {
    expect(judgeSnapshotFill(at(10), 1000, undefined, policy)).toBeUndefined();
    expect(judgeSnapshotFill(at(89.99), 1000, undefined, policy)).toBeUndefined();
    expect(judgeSnapshotFill({ exists: true, fillPercent: undefined, invalid: false }, 1000, undefined, policy)).toBeUndefined();
  });

  it('stops at the limit with LVM_SNAPSHOT_FILLING, naming the fill and the remedy', () => {
    const e = judgeSnapshotFill(at(90), 1000, undefined, policy);
    expect(e).toMatchObject({ code: 'LVM_SNAPSHOT_FILLING', kind: 'refused', actual: '90.00% full', expected: 'below 90% full' });
    expect(e?.hint).toContain('--snapshot-size');
    expect(e?.hint).toContain('8.89 MiB'); // 8 MiB / 0.9
  });

  it('stops early when the fill rate would pass 100% before the next reading', () => {
    // 40% -> 70% in 5 s: 6%/s, so 7.5 s more would add 45%.
    const e = judgeSnapshotFill(at(70), 10_000, { atMs: 5000, fillPercent: 40 }, policy);
    expect(e?.code).toBe('LVM_SNAPSHOT_FILLING');
    // A slow rate: 40% -> 45% in 5 s would add 7.5%: go on.
    expect(judgeSnapshotFill(at(45), 10_000, { atMs: 5000, fillPercent: 40 }, policy)).toBeUndefined();
  });

  it('reports an overflowed snapshot as LVM_SNAPSHOT_INVALID and a vanished one as LVM_SNAPSHOT_MISSING', () => {
    expect(judgeSnapshotFill(at(100, true), 1000, undefined, policy)).toMatchObject({ code: 'LVM_SNAPSHOT_INVALID', kind: 'external' });
    expect(judgeSnapshotFill({ exists: false, fillPercent: undefined, invalid: false }, 1000, undefined, policy)?.code).toBe('LVM_SNAPSHOT_MISSING');
  });
});

/** A reader that returns the scripted states in turn (the last one forever) and counts calls. */
function scripted(states: (SnapshotState | Error)[]): { read: () => Promise<SnapshotState>; calls: () => number } {
  let i = 0;
  return {
    read: async () => {
      const s = states[Math.min(i, states.length - 1)]!;
      i++;
      if (s instanceof Error) throw s;
      return s;
    },
    calls: () => i,
  };
}

function aborted(signal: AbortSignal, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return resolve(signal.reason);
    const timer = setTimeout(() => reject(new Error('not aborted in time')), timeoutMs);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve(signal.reason);
    });
  });
}

describe('SnapshotWatcher', () => {
  it('polls until the fill reaches the limit, then aborts the signal once and calls onAbort', async () => {
    const source = scripted([at(10), at(20), at(30), at(91), at(95)]);
    const reasons: unknown[] = [];
    const w = watchSnapshot({ read: source.read, snapshot: 'vg0/s', intervalMs: 10, onAbort: (r) => reasons.push(r) });
    const reason = await aborted(w.signal);
    expect(reason).toMatchObject({ code: 'LVM_SNAPSHOT_FILLING' });
    expect(reasons).toHaveLength(1);
    expect(w.peakPercent).toBe(91);
    const calls = source.calls();
    await new Promise((r) => setTimeout(r, 50));
    expect(source.calls()).toBe(calls); // no polling after the abort
    await w.stop();
  });

  it('stops polling when stopped', async () => {
    const source = scripted([at(1)]);
    const w = watchSnapshot({ read: source.read, snapshot: 'vg0/s', intervalMs: 10 });
    await new Promise((r) => setTimeout(r, 60));
    await w.stop();
    const calls = source.calls();
    expect(calls).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(source.calls()).toBe(calls);
    expect(w.signal.aborted).toBe(false);
  });

  it('tolerates two failed readings in a row, not three', async () => {
    const flaky = scripted([new Error('lock'), new Error('lock'), at(5), new Error('a'), new Error('b'), at(6)]);
    const w1 = watchSnapshot({ read: flaky.read, snapshot: 'vg0/s', intervalMs: 5 });
    await new Promise((r) => setTimeout(r, 100));
    expect(w1.signal.aborted).toBe(false);
    await w1.stop();
    const broken = scripted([at(5), new Error('x'), new Error('y'), new Error('z')]);
    const errors: unknown[] = [];
    const w2 = watchSnapshot({ read: broken.read, snapshot: 'vg0/s', intervalMs: 5, onReadError: (e) => errors.push(e) });
    expect(await aborted(w2.signal)).toMatchObject({ code: 'LVM_SNAPSHOT_UNWATCHABLE' });
    expect(errors).toHaveLength(3);
  });

  it('checkNow fails on a snapshot that overflowed since the last reading, and passes a full but valid one', async () => {
    const w = new SnapshotWatcher({ read: scripted([at(100, true)]).read, snapshot: 'vg0/s', intervalMs: 60_000 });
    await expect(w.checkNow()).rejects.toMatchObject({ code: 'LVM_SNAPSHOT_INVALID' });
    expect(w.signal.aborted).toBe(true);
    const full = new SnapshotWatcher({ read: scripted([at(100)]).read, snapshot: 'vg0/s', intervalMs: 60_000 });
    await expect(full.checkNow()).resolves.toBeUndefined();
  });

  it('refuses a threshold outside (0, 100)', () => {
    expect(() => new SnapshotWatcher({ read: scripted([at(1)]).read, snapshot: 's', abortAtPercent: 100 })).toThrow(expect.objectContaining({ code: 'USAGE_BAD_NUMBER' }));
    expect(() => new SnapshotWatcher({ read: scripted([at(1)]).read, snapshot: 's', intervalMs: 0 })).toThrow(expect.objectContaining({ code: 'USAGE_BAD_NUMBER' }));
  });
});
