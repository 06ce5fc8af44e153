// One error class for the whole engine, with a stable machine-readable code.
// Pure layers throw it; streams destroy() with it; only src/cli maps `kind` to an exit status.

/**
 * What kind of failure an error is. The CLI turns this into a documented exit status, so a script
 * can tell "the input is damaged" from "the disk is full" without parsing messages.
 */
export type ErrorKind =
  | 'usage' //     bad command line or option value
  | 'input' //     the data read is malformed (image, volume, archive, partition table)
  | 'refused' //   a safety check refused to go on (exists, dirty, mounted, too small, locked)
  | 'io' //        the operating system failed a read, write, open or sync
  | 'external' //  an external command (lvm, kpartx, a hook) failed
  | 'verify' //    a checksum or verification did not match
  | 'auth' //      the agent refused or could not authenticate
  | 'interrupted' // SIGINT/SIGTERM
  | 'internal'; // a bug

export interface ErrorDetails {
  /** Which kind of failure; default 'input'. */
  kind?: ErrorKind;
  /** Byte offset in the input where the problem was found. */
  byteOffset?: number | bigint;
  /** What the format requires at that place. */
  expected?: unknown;
  /** What was found instead. */
  actual?: unknown;
  /** The file or device concerned. */
  path?: string;
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
}

export class SnapcloneError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly byteOffset: number | bigint | undefined;
  readonly expected: unknown;
  readonly actual: unknown;
  readonly path: string | undefined;
  readonly hint: string | undefined;

  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(composeMessage(message, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SnapcloneError';
    this.code = code;
    this.kind = details.kind ?? 'input';
    this.byteOffset = details.byteOffset;
    this.expected = details.expected;
    this.actual = details.actual;
    this.path = details.path;
    this.hint = details.hint;
  }

  /** A copy of this error that names the file it happened in (added by the layer that knows it). */
  withPath(path: string): SnapcloneError {
    if (this.path !== undefined) return this;
    const copy = new SnapcloneError(this.code, stripDetails(this.message), {
      kind: this.kind,
      byteOffset: this.byteOffset,
      expected: this.expected,
      actual: this.actual,
      path,
      hint: this.hint,
      cause: this.cause,
    });
    copy.stack = this.stack;
    return copy;
  }
}

const DETAIL_SEPARATOR = ' [';

function composeMessage(message: string, d: ErrorDetails): string {
  const parts: string[] = [];
  if (d.path !== undefined) parts.push(`file ${d.path}`);
  if (d.byteOffset !== undefined) parts.push(`at byte ${formatByteOffset(d.byteOffset)}`);
  if (d.expected !== undefined) parts.push(`expected ${show(d.expected)}`);
  if (d.actual !== undefined) parts.push(`found ${show(d.actual)}`);
  return parts.length === 0 ? message : `${message}${DETAIL_SEPARATOR}${parts.join(', ')}]`;
}

function stripDetails(message: string): string {
  const i = message.lastIndexOf(DETAIL_SEPARATOR);
  return i < 0 || !message.endsWith(']') ? message : message.slice(0, i);
}

function show(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) > 9 ? `${v} (0x${v.toString(16)})` : String(v);
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}

/** `0x1f4 (500)`: hex for matching hexdumps, decimal for humans. */
export function formatByteOffset(offset: number | bigint): string {
  return `0x${offset.toString(16)} (${offset.toString()})`;
}

export function isSnapcloneError(e: unknown): e is SnapcloneError {
  return e instanceof SnapcloneError;
}

/** A recoverable anomaly: reported, not thrown (node-tar's warn mechanism). */
export interface Warning {
  code: string;
  message: string;
  byteOffset?: number;
}

export type WarnFn = (w: Warning) => void;

/** Discards warnings; for callers that have already decided they do not care. */
export const ignoreWarnings: WarnFn = () => {};
