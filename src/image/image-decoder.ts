// The restore side: a push parser for ntfsclone images (10.0 and 10.x) that turns any byte stream,
// in chunks of any size, into "write these bytes at this volume offset" calls. It validates what
// ntfsclone validates (magic, version, gap 0, gap range, command bytes, truncation) and names the
// input byte offset of every problem. Memory use is flat: only the 50-byte header and an 8-byte
// gap count are ever buffered. Spec: docs/spec/ntfsclone-format.md §1, §2 and §5.

import { SnapcloneError, type WarnFn } from '../core/errors.js';
import { clusterDataLength, decodeImageHeader, IMAGE_HDR_BYTES, IMAGE_MAGIC, type ImageHeader } from './image-header.js';
import { CMD_GAP, CMD_NEXT } from './image-encoder.js';

export interface ImageSink {
  /** The header, before any data. */
  header?(h: ImageHeader): void;
  /** `bytes` (valid only during the call) belong at `volumeByteOffset` of the restored volume. */
  data(volumeByteOffset: number, bytes: Uint8Array): void;
  /** A GAP moved the position by `clusters` (may be negative) to cluster `toCluster`. */
  gap?(clusters: number, toCluster: number): void;
}

export interface DecodeSummary {
  header: ImageHeader;
  /** NEXT records decoded (clusters restored, the backup boot sector chunk included). */
  clusters: number;
  gaps: number;
  /** Bytes of the image consumed up to the end of its last cluster. */
  imageBytes: number;
  /** The image ended at cluster nr_clusters with no final chunk (a 10.0 image). */
  noBackupBootSector: boolean;
  /** Bytes that followed the last cluster (ignored, as ntfsclone ignores them). */
  trailingBytes: number;
}

const enum State {
  Header,
  Skip,
  Command,
  GapCount,
  Data,
  Done,
}

export class ImageDecoder {
  private state = State.Header;
  private readonly headerBytes = new Uint8Array(IMAGE_HDR_BYTES);
  private headerFill = 0;
  private skipLeft = 0;
  private readonly gapBytes = new Uint8Array(8);
  private readonly gapView = new DataView(this.gapBytes.buffer);
  private gapFill = 0;
  private commandOffset = 0;
  private hdr: ImageHeader | undefined;
  /** Current cluster position (ntfsclone's `pos`). */
  private pos = 0;
  private dataLeft = 0;
  private dataDone = 0;
  /** Bytes consumed from the input so far. */
  private inputOffset = 0;
  private clusters = 0;
  private gaps = 0;
  private imageBytes = 0;
  private trailing = 0;

  constructor(
    private readonly sink: ImageSink,
    private readonly onWarning: WarnFn = () => {},
  ) {}

  get header(): ImageHeader | undefined {
    return this.hdr;
  }

  /** True once the last cluster (nr_clusters) is complete: later input is ignored. */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** Bytes of input consumed so far. */
  get bytesConsumed(): number {
    return this.inputOffset;
  }

  /** Feeds the next piece of the image. Throws SnapcloneError on invalid input. */
  push(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.byteLength;
    while (i < n) {
      switch (this.state) {
        case State.Header: {
          const take = Math.min(n - i, IMAGE_HDR_BYTES - this.headerFill);
          this.headerBytes.set(chunk.subarray(i, i + take), this.headerFill);
          // Say "not an image" as soon as a magic byte differs, even if the input is shorter
          // than a header (a bzip2 file, a raw volume piped by mistake).
          for (let k = this.headerFill; k < Math.min(this.headerFill + take, IMAGE_MAGIC.byteLength); k++) {
            if (this.headerBytes[k] !== IMAGE_MAGIC[k]) decodeImageHeader(this.headerBytes);
          }
          this.headerFill += take;
          i += take;
          if (this.headerFill === IMAGE_HDR_BYTES) {
            const h = decodeImageHeader(this.headerBytes);
            this.hdr = h;
            this.sink.header?.(h);
            // offset_to_image_data below 50 cannot move the body backwards (ntfsclone skips only
            // a positive difference).
            this.skipLeft = Math.max(0, h.offset_to_image_data - IMAGE_HDR_BYTES);
            this.state = this.skipLeft > 0 ? State.Skip : State.Command;
          }
          break;
        }
        case State.Skip: {
          const take = Math.min(n - i, this.skipLeft);
          this.skipLeft -= take;
          i += take;
          if (this.skipLeft === 0) this.state = State.Command;
          break;
        }
        case State.Command: {
          const cmd = chunk[i] as number;
          this.commandOffset = this.inputOffset + i;
          i++;
          if (cmd === CMD_NEXT) {
            this.startCluster();
          } else if (cmd === CMD_GAP) {
            this.gapFill = 0;
            this.state = State.GapCount;
          } else {
            throw new SnapcloneError('IMG_BAD_COMMAND', `invalid command code ${cmd} in the image`, {
              byteOffset: this.commandOffset,
              expected: '0 (GAP) or 1 (NEXT)',
              actual: cmd,
            });
          }
          break;
        }
        case State.GapCount: {
          const take = Math.min(n - i, 8 - this.gapFill);
          this.gapBytes.set(chunk.subarray(i, i + take), this.gapFill);
          this.gapFill += take;
          i += take;
          if (this.gapFill === 8) this.applyGap();
          break;
        }
        case State.Data: {
          const take = Math.min(n - i, this.dataLeft);
          const h = this.hdr as ImageHeader;
          this.sink.data(this.pos * h.cluster_size + this.dataDone, chunk.subarray(i, i + take));
          this.dataLeft -= take;
          this.dataDone += take;
          i += take;
          if (this.dataLeft === 0) this.endCluster();
          break;
        }
        case State.Done: {
          this.trailing += n - i;
          i = n;
          break;
        }
      }
    }
    this.inputOffset += n;
  }

  /** The input ended: checks that the image was complete and summarizes it. */
  end(): DecodeSummary {
    const h = this.hdr;
    let noBackupBootSector = false;
    if (this.state !== State.Done) {
      if (h && this.state === State.Command && this.pos === h.nr_clusters) {
        // ntfsclone accepts this ("no alternate boot sector in image"): how 10.0 images end.
        noBackupBootSector = true;
        this.imageBytes = this.inputOffset;
        this.onWarning({ code: 'IMG_NO_BACKUP_BOOT_SECTOR', message: 'no alternate boot sector in the image (a version 10.0 image?)', byteOffset: this.inputOffset });
      } else {
        throw this.truncated();
      }
    }
    return {
      header: h as ImageHeader,
      clusters: this.clusters,
      gaps: this.gaps,
      imageBytes: this.imageBytes,
      noBackupBootSector,
      trailingBytes: this.trailing,
    };
  }

  private truncated(): SnapcloneError {
    const where: Record<State, string> = {
      [State.Header]: `the header (${IMAGE_HDR_BYTES} bytes)`,
      [State.Skip]: `the header padding up to offset ${this.hdr?.offset_to_image_data}`,
      [State.Command]: `a command for cluster ${this.pos} (the image must reach cluster ${this.hdr?.nr_clusters})`,
      [State.GapCount]: 'the 8-byte count of a GAP',
      [State.Data]: `the data of cluster ${this.pos}`,
      [State.Done]: '',
    };
    return new SnapcloneError('IMG_TRUNCATED', 'the image is truncated', {
      byteOffset: this.inputOffset,
      expected: where[this.state],
      actual: 'the end of the input',
      hint: 'the image file is incomplete: was the save interrupted or the copy cut short?',
    });
  }

  private startCluster(): void {
    const h = this.hdr as ImageHeader;
    const length = clusterDataLength(h, this.pos);
    if (length < 0) {
      throw new SnapcloneError('IMG_DATA_PAST_DEVICE', `cluster ${this.pos} lies past the end of the device`, {
        byteOffset: this.commandOffset,
        expected: `clusters below ${Math.ceil(h.device_size / h.cluster_size)}`,
        actual: this.pos,
      });
    }
    this.dataLeft = length;
    this.dataDone = 0;
    if (length === 0) this.endCluster();
    else this.state = State.Data;
  }

  private endCluster(): void {
    const h = this.hdr as ImageHeader;
    this.clusters++;
    this.pos++;
    if (this.pos > h.nr_clusters) {
      this.state = State.Done;
      this.imageBytes = this.commandOffset + 1 + this.dataDone;
    } else {
      this.state = State.Command;
    }
  }

  private applyGap(): void {
    const h = this.hdr as ImageHeader;
    const count = this.gapView.getBigInt64(0, true);
    if (count === 0n) {
      throw new SnapcloneError('IMG_ZERO_GAP', 'a GAP of 0 clusters (bad offset)', {
        byteOffset: this.commandOffset,
        expected: 'a non-zero cluster count',
        actual: 0,
      });
    }
    const target = BigInt(this.pos) + count;
    if (target < 0n || target > BigInt(h.nr_clusters)) {
      throw new SnapcloneError('IMG_GAP_OUT_OF_RANGE', 'a GAP moves outside the volume (corrupt image)', {
        byteOffset: this.commandOffset,
        expected: `a target cluster from 0 to ${h.nr_clusters}`,
        actual: `${this.pos} ${count < 0n ? '-' : '+'} ${count < 0n ? -count : count} = ${target}`,
      });
    }
    this.pos = Number(target);
    this.gaps++;
    this.sink.gap?.(Number(count), this.pos);
    this.state = State.Command;
  }
}
