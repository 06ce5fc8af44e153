// The claim cells shared by the decompression pool and a worker: exactly one side gets each job,
// whichever asks first, and a cell reused by a later job never answers for an earlier one.

import { describe, expect, it } from 'vitest';
import { JobClaims } from '../../src/bzip2/parallel/decompress-protocol.js';

describe('JobClaims', () => {
  it('gives an open job to the first side that claims it, and only to it', () => {
    const claims = JobClaims.create();
    claims.open(1);
    claims.open(2);
    expect(claims.claimForWorker(1)).toBe(true);
    expect(claims.workerHas(1)).toBe(true);
    expect(claims.claimForPool(1)).toBe(false); // the worker has begun it
    expect(claims.claimForPool(2)).toBe(true);
    expect(claims.claimForWorker(2)).toBe(false); // taken back: the worker skips it
    expect(claims.workerHas(2)).toBe(false);
    expect(claims.claimForWorker(1)).toBe(false); // never twice
  });

  it('answers nothing for a job that was never opened, or whose cell a later job reuses', () => {
    const claims = JobClaims.create();
    expect(claims.claimForWorker(7)).toBe(false);
    expect(claims.claimForPool(7)).toBe(false);
    claims.open(5);
    claims.open(5 + 1024); // the same cell, a later job
    expect(claims.claimForWorker(5)).toBe(false);
    expect(claims.claimForPool(5)).toBe(false);
    expect(claims.claimForWorker(5 + 1024)).toBe(true);
  });

  it('is shared memory: a copy over the same cells (as a worker gets) sees the claims and the ready flag', () => {
    const pool = JobClaims.create();
    const worker = new JobClaims(pool.cells);
    expect(pool.cells.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(pool.ready).toBe(false);
    worker.markReady();
    expect(pool.ready).toBe(true);
    pool.open(3);
    expect(worker.claimForWorker(3)).toBe(true);
    expect(pool.workerHas(3)).toBe(true);
    expect(pool.claimForPool(3)).toBe(false);
  });
});
