// `snapclone bzip2`: the codec alone with bzip2's own flags, so it can be timed against `bzip2` as a
// whole process and used in its place in scripts.

import { Command, Option } from 'commander';
import { createReadStream, fstatSync, type ReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SnapcloneError } from '../../core/errors.js';
import { parseIntegerOption } from '../../core/units.js';
import { ioError } from '../../io/source-file.js';

interface Bzip2Options {
  decompress?: boolean;
  compress?: boolean;
  stdout?: boolean;
  keep?: boolean;
  force?: boolean;
  test?: boolean;
  quiet?: boolean;
  level?: string;
  threads?: string;
}

/** bzip2 spells levels as -1..-9; commander cannot, so they become --level N before parsing. */
export function rewriteLevelFlags(argv: string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    const m = /^-([a-zA-Z]*)([1-9])([a-zA-Z]*)$/.exec(a);
    if (m && !a.startsWith('--')) {
      if (m[1]) out.push(`-${m[1]}`);
      out.push('--level', m[2]!);
      if (m[3]) out.push(`-${m[3]}`);
    } else if (a === '--fast') out.push('--level', '1');
    else if (a === '--best') out.push('--level', '9');
    else out.push(a);
  }
  return out;
}

export function registerBzip2(program: Command): void {
  program
    .command('bzip2')
    .description('compress or decompress .bz2 as bzip2 does, on every core (readable by bzip2, lbzip2, pbzip2)')
    .argument('[files...]', 'files to process; without any, stdin to stdout')
    .option('-z, --compress', 'compress (the default)')
    .option('-d, --decompress', 'decompress')
    .option('-t, --test', 'check the integrity of compressed files; write nothing')
    .option('-c, --stdout', 'write to standard output, keep the input files')
    .option('-k, --keep', 'keep (do not delete) input files')
    .option('-f, --force', 'overwrite existing output files')
    .option('-q, --quiet', 'suppress warnings')
    .addOption(new Option('--level <n>', 'block size 1..9 (x 100 kB); also -1 .. -9, --fast, --best').default('9'))
    .option('--threads <n>', 'worker threads (default: one per core)')
    .addHelpText('after', '\nExamples:\n  snapclone bzip2 -9 -c big.img > big.img.bz2\n  snapclone bzip2 -dc big.img.bz2 | cmp - big.img')
    .action(async (files: string[], opts: Bzip2Options) => {
      await runBzip2(files, opts);
    });
}

async function runBzip2(files: string[], opts: Bzip2Options): Promise<void> {
  const level = parseIntegerOption(opts.level ?? '9', '--level', 1, 9);
  const threads = opts.threads === undefined ? undefined : parseIntegerOption(opts.threads, '--threads', 1, 256);
  const mode: 'compress' | 'decompress' | 'test' = opts.test ? 'test' : opts.decompress ? 'decompress' : 'compress';
  const onWarning = (w: { code: string; message: string }): void => {
    if (!opts.quiet) process.stderr.write(`snapclone bzip2: warning ${w.code}: ${w.message}\n`);
  };
  // Only the direction in use is loaded (process start-up time counts against bzip2's).
  let makeCodec: (inputBytes?: number) => Transform;
  if (mode === 'compress') {
    const { createCompressStream } = await import('../../bzip2/compress-stream.js');
    makeCodec = (inputBytes?: number) => createCompressStream({ level, threads, inputBytes });
  } else {
    const { createDecompressStream } = await import('../../bzip2/decompress-stream.js');
    makeCodec = (inputBytes?: number) => createDecompressStream({ threads, onWarning, inputBytes });
  }

  if (files.length === 0) {
    if (mode === 'compress' && process.stdout.isTTY && !opts.force) {
      throw new SnapcloneError('USAGE_TTY_OUTPUT', 'compressed data will not be written to a terminal', {
        kind: 'usage',
        hint: 'redirect stdout to a file, or use -f to force',
      });
    }
    const sink = mode === 'test' ? discard() : process.stdout;
    await pipeline(process.stdin, makeCodec(stdinFileBytes()), sink);
    return;
  }

  for (const file of files) {
    const { input, inputBytes } = await openInput(file);
    if (mode === 'test') {
      await pipeline(input, makeCodec(inputBytes), discard()).catch((e: unknown) => {
        throw e instanceof SnapcloneError ? e.withPath(file) : e;
      });
      continue;
    }
    if (opts.stdout) {
      await pipeline(input, makeCodec(inputBytes), process.stdout, { end: false }).catch((e: unknown) => {
        throw e instanceof SnapcloneError ? e.withPath(file) : e;
      });
      continue;
    }
    const outPath = mode === 'compress' ? `${file}.bz2` : decompressedName(file);
    if (mode === 'compress' && /\.(bz2|bz|tbz2|tbz)$/.test(file)) {
      onWarning({ code: 'BZ2_ALREADY_COMPRESSED', message: `${file} already has a .bz2 suffix; skipped` });
      continue;
    }
    const { createAtomicFile } = await import('../../io/atomic-file.js'); // not loaded for -c, -t
    const out = await createAtomicFile(outPath, { overwrite: !!opts.force });
    try {
      await pipeline(input, makeCodec(inputBytes), out.writable());
      await out.commit();
    } catch (e) {
      await out.abort();
      throw e instanceof SnapcloneError ? e.withPath(file) : e;
    }
    if (!opts.keep) await rm(file);
  }
}

/** bzip2's naming: x.bz2 -> x, x.bz -> x, x.tbz2/x.tbz -> x.tar, anything else -> x.out. */
export function decompressedName(file: string): string {
  for (const [suffix, replacement] of [
    ['.bz2', ''],
    ['.bz', ''],
    ['.tbz2', '.tar'],
    ['.tbz', '.tar'],
  ] as const) {
    if (file.endsWith(suffix) && file.length > suffix.length) return file.slice(0, -suffix.length) + replacement;
  }
  return `${file}.out`;
}

async function openInput(file: string): Promise<{ input: ReadStream; inputBytes: number | undefined }> {
  let inputBytes: number | undefined;
  try {
    const st = await stat(file);
    if (st.isDirectory()) throw new SnapcloneError('USAGE_IS_DIRECTORY', `${file} is a directory`, { kind: 'usage', path: file });
    if (st.isFile()) inputBytes = st.size;
  } catch (e) {
    throw ioError(e, file, 'open');
  }
  return { input: createReadStream(file, { highWaterMark: 1 << 20 }), inputBytes };
}

/** The size of stdin when it is a regular file (`< file`), else undefined (a pipe, a terminal). */
function stdinFileBytes(): number | undefined {
  try {
    const st = fstatSync(0);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

function discard(): Writable {
  return new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });
}

