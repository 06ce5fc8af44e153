// restore-image orchestration: decode an ntfsclone image from any byte stream (file, stdin, a
// decompressor) and write it to a RestoreTarget in large contiguous gather writes, without copying
// the cluster data out of the input chunks.
// Spec: docs/spec/ntfsclone-format.md §5.

import { SnapcloneError, type WarnFn } from '../core/errors.js';
import { silentProgress, type Progress } from '../core/progress.js';
import { ImageDecoder, type DecodeSummary } from '../image/image-decoder.js';
import type { ImageHeader } from '../image/image-header.js';
import type { RestoreTarget } from '../io/restore-target.js';

/** Contiguous data is gathered into writes of up to this many bytes... */
const WRITE_BYTES = 1024 * 1024;
/** ...and at most this many pieces (Linux's IOV_MAX is 1024). */
const WRITE_PIECES = 1024;
/** Writes a positional target may have pending at once. */
const MAX_WRITES_IN_FLIGHT = 4;

export interface RestoreImageOptions {
  progress?: Progress;
  onWarning?: WarnFn;
  /** Called with the header as soon as it is decoded (before any write). */
  onHeader?: (h: ImageHeader) => void;
  /**
   * Runs after the last cluster is written and before the target is finished (renamed into
   * place): reading a compressed input to its end checks its last CRCs there. Throwing aborts.
   */
  beforeFinish?: () => Promise<void>;
}

type Step = { kind: 'write'; offset: number; pieces: Uint8Array[]; bytes: number } | { kind: 'skip'; offset: number };

/**
 * Restores the image read from `input` onto `target`, then finishes it (or aborts it on error).
 * Stops reading once the last cluster is restored, as ntfsclone does. The chunks of `input` are
 * written from directly: they must not be reused once yielded (Node streams never reuse them).
 */
export async function restoreImage(
  input: AsyncIterable<Uint8Array>,
  target: RestoreTarget,
  options: RestoreImageOptions = {},
): Promise<DecodeSummary> {
  const progress = options.progress ?? silentProgress;
  const steps: Step[] = [];
  let pending: Extract<Step, { kind: 'write' }> | undefined;
  let header: ImageHeader | undefined;
  let restoredBytes = 0;

  const flush = (): void => {
    if (pending) steps.push(pending);
    pending = undefined;
  };
  const decoder = new ImageDecoder(
    {
      header(h) {
        header = h;
      },
      data(offset, bytes) {
        const p = pending;
        if (p && offset === p.offset + p.bytes && p.bytes + bytes.byteLength <= WRITE_BYTES && p.pieces.length < WRITE_PIECES) {
          p.pieces.push(bytes);
          p.bytes += bytes.byteLength;
          return;
        }
        flush();
        pending = { kind: 'write', offset, pieces: [bytes], bytes: bytes.byteLength };
      },
      gap(_clusters, toCluster) {
        flush();
        steps.push({ kind: 'skip', offset: toCluster * (header as ImageHeader).cluster_size });
      },
    },
    options.onWarning,
  );

  // Positional targets take several writes at once (they land at different offsets), so the
  // next input chunk is decoded while earlier writes are still in the kernel; streams are serial.
  const maxInFlight = target.positional ? MAX_WRITES_IN_FLIGHT : 1;
  const inFlight: Promise<void>[] = [];
  let failure: unknown;
  const drain = async (): Promise<void> => {
    await Promise.all(inFlight.splice(0));
    if (failure) throw failure;
  };
  const run = async (s: Step): Promise<void> => {
    if (s.kind === 'skip') {
      if (!target.positional) await drain();
      await target.skipTo(s.offset);
      return;
    }
    if (inFlight.length >= maxInFlight) await inFlight.shift();
    if (failure) throw failure;
    inFlight.push(
      target.writev(s.pieces, s.offset).catch((e: unknown) => {
        failure ??= e;
      }),
    );
    restoredBytes += s.bytes;
    progress.update(restoredBytes);
  };

  let begun = false;
  try {
    for await (const chunk of input) {
      decoder.push(chunk);
      if (!begun && header) {
        begun = true;
        options.onHeader?.(header);
        await target.begin({ clusterSize: header.cluster_size, nrClusters: header.nr_clusters });
        progress.begin('Restoring the image', header.inuse * header.cluster_size + Math.min(header.cluster_size, header.device_size - header.nr_clusters * header.cluster_size));
      }
      // A pending write may continue into the next chunk; once the image is complete, flush it.
      if (decoder.done) flush();
      for (const s of steps) await run(s);
      steps.length = 0;
      if (decoder.done) break;
    }
    flush();
    const summary = decoder.end();
    if (!begun) {
      throw new SnapcloneError('IMG_TRUNCATED', 'the image is empty', { byteOffset: 0, expected: 'an ntfsclone image header', actual: 'no bytes' });
    }
    for (const s of steps) await run(s);
    steps.length = 0;
    await drain();
    progress.update(restoredBytes);
    progress.end();
    await options.beforeFinish?.();
    await target.finish();
    return summary;
  } catch (e) {
    await Promise.allSettled(inFlight);
    await target.abort();
    throw e;
  }
}
