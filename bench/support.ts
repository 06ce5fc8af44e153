// Shared helpers for the benny suites: run a set of cases (in-process functions or whole child
// processes) side by side in one run, then print MB/s and wall-time ratios against a named peer.

import b from 'benny';
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';

export interface BenchCase {
  name: string;
  fn: () => Promise<unknown> | unknown;
}

export interface CompareOptions {
  /** The case every other one is compared with (the C peer). */
  baseline: string;
  /** Bytes processed by one call, for MB/s. */
  bytesPerRun: number;
  minSamples?: number;
  maxTimeSeconds?: number;
}

export interface CaseTiming {
  name: string;
  meanSeconds: number;
  minSeconds: number;
  megabytesPerSecond: number;
  /** mean wall time / baseline mean wall time: below 1.0 means faster than the baseline. */
  wallTimeRatio: number;
}

/** Runs the cases with benny and prints a table of MB/s and ratios. Returns the timings. */
export async function compare(suiteName: string, cases: BenchCase[], options: CompareOptions): Promise<CaseTiming[]> {
  const timings: CaseTiming[] = [];
  await b.suite(
    suiteName,
    ...cases.map((c) =>
      b.add(c.name, async () => {
        await c.fn();
      }, { minSamples: options.minSamples ?? 3, maxTime: options.maxTimeSeconds ?? 5, initCount: 1 }),
    ),
    b.cycle(),
    b.complete((summary) => {
      const base = summary.results.find((r) => r.name === options.baseline);
      const baseMean = base?.details.mean ?? Number.NaN;
      for (const r of summary.results) {
        timings.push({
          name: r.name,
          meanSeconds: r.details.mean,
          minSeconds: r.details.min,
          megabytesPerSecond: options.bytesPerRun / 1e6 / r.details.mean,
          wallTimeRatio: r.details.mean / baseMean,
        });
      }
      printTable(suiteName, timings, options.baseline);
    }),
  );
  return timings;
}

export function printTable(title: string, timings: CaseTiming[], baseline: string): void {
  console.log(`\n${title}: wall time relative to ${baseline} (lower is faster)`);
  const w = Math.max(...timings.map((t) => t.name.length), 10);
  console.log(`  ${'case'.padEnd(w)}  ${'mean s'.padStart(8)}  ${'min s'.padStart(8)}  ${'MB/s'.padStart(8)}  ratio`);
  for (const t of timings) {
    console.log(
      `  ${t.name.padEnd(w)}  ${t.meanSeconds.toFixed(3).padStart(8)}  ${t.minSeconds.toFixed(3).padStart(8)}  ` +
        `${t.megabytesPerSecond.toFixed(1).padStart(8)}  ${t.wallTimeRatio.toFixed(2)}x`,
    );
  }
}

/**
 * Runs a whole process (as a shell would), stdin from `inputPath` (or none), stdout to
 * `outputPath` (or discarded). Rejects on a non-zero exit so a broken peer cannot look fast.
 */
export function runProcess(file: string, args: string[], io: { inputPath?: string; outputPath?: string } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    if (io.inputPath) createReadStream(io.inputPath).pipe(child.stdin);
    else child.stdin.end();
    if (io.outputPath) child.stdout.pipe(createWriteStream(io.outputPath));
    else child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${file} ${args.join(' ')} exited ${code}: ${stderr.slice(0, 500)}`)),
    );
  });
}

/** Runs a shell pipeline (for the seed's `ntfsclone ... | bzip2` recipe); fails if any stage fails. */
export function runShell(script: string): Promise<void> {
  return runProcess('bash', ['-o', 'pipefail', '-c', script]);
}
