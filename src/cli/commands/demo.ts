// `snapclone demo` (what `npm start` runs): saves the bundled demo NTFS volume as an ntfsclone
// image, restores it to a scratch file, and checks the result with snapclone's own reader (every
// used cluster equal, and the image re-saved from the restored volume identical). Needs no root,
// no ntfs-3g and no arguments. Scratch files go to ./demo-scratch/.

import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SnapcloneError } from '../../core/errors.js';
import { formatBytes, formatDuration } from '../../core/units.js';

/** "0.42 s" below a minute, "3m05s" above. */
const seconds = (s: number): string => (s < 60 ? `${s.toFixed(2)} s` : formatDuration(s));
import { prepareSave } from '../../backup/save-image.js';
import { restoreImage } from '../../backup/restore-image.js';
import { compareUsedClusters, sha256OfChunks } from '../../backup/verify-restore.js';
import { createAtomicFile } from '../../io/atomic-file.js';
import { FileRestoreTarget } from '../../io/restore-target.js';
import { SourceFile } from '../../io/source-file.js';
import { gunzipToSparseFile } from '../../io/sparse-gunzip.js';
import { progressFromOptions } from '../progress.js';

interface DemoOptions {
  quiet?: boolean;
  progress?: string;
  scratch?: string;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('save, restore and verify the bundled demo NTFS volume (no root, no arguments needed)')
    .option('--scratch <dir>', 'where the demo writes its files', 'demo-scratch')
    .option('-q, --quiet', 'only the summary')
    .option('--progress <mode>', 'progress display: auto, bar, json or none')
    .action(async (opts: DemoOptions) => {
      await runDemo(opts);
    });
}

/** The bundled volume, from dist/src/cli/commands (built) or src/cli/commands (sources). */
function demoVolumePath(): string {
  for (const rel of ['../../../../fixtures/ntfs/demo.img.gz', '../../../fixtures/ntfs/demo.img.gz']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new SnapcloneError('DEMO_MISSING_VOLUME', 'the bundled demo volume (fixtures/ntfs/demo.img.gz) is missing', {
    kind: 'internal',
    hint: 'run the demo from a checkout of the repository',
  });
}

async function runDemo(opts: DemoOptions): Promise<void> {
  const started = Date.now();
  const say = (s: string): void => void process.stdout.write(`${s}\n`);
  const progress = progressFromOptions(opts);
  const scratch = opts.scratch ?? 'demo-scratch';
  await mkdir(scratch, { recursive: true });
  const volumePath = join(scratch, 'demo-volume.ntfs');
  const imagePath = join(scratch, 'demo-volume.img');
  const restoredPath = join(scratch, 'restored.ntfs');
  const show = (p: string): string => relative(process.cwd(), p) || p;

  say('snapclone demo: save an NTFS volume as an ntfsclone image, restore it, and check the result.\n');
  progress.begin('Unpacking the demo volume');
  const volumeBytes = await gunzipToSparseFile(demoVolumePath(), volumePath, progress);
  progress.end();

  // 1. save-image
  const t0 = Date.now();
  const prepared = await prepareSave(volumePath, { progress });
  const file = await createAtomicFile(imagePath, { overwrite: true });
  try {
    let position = 0;
    for await (const chunk of prepared.stream(progress)) {
      await file.handle.write(chunk as Uint8Array, 0, (chunk as Uint8Array).byteLength, position);
      position += (chunk as Uint8Array).byteLength;
    }
    await file.commit();
  } catch (e) {
    await file.abort();
    throw e;
  } finally {
    await prepared.close();
  }
  const saveSeconds = (Date.now() - t0) / 1000;
  const { boot, saveSet, volumeInfo } = prepared;

  // 2. restore-image
  const t1 = Date.now();
  const target = new FileRestoreTarget(restoredPath, true);
  await target.prepare();
  const summary = await restoreImage(createReadStream(imagePath, { highWaterMark: 1024 * 1024 }), target, { progress });
  const restoreSeconds = (Date.now() - t1) / 1000;

  // 3. verify with snapclone's own reader: used clusters equal, and a re-save identical.
  const original = await SourceFile.open(volumePath);
  const restored = await SourceFile.open(restoredPath);
  let comparison;
  try {
    progress.begin('Comparing used clusters', saveSet.inuse * boot.clusterSize);
    comparison = await compareUsedClusters(original, restored, prepared.geometry, saveSet.bitmap, (n) => progress.update(n));
    progress.end();
  } finally {
    await original.close();
    await restored.close();
  }
  const first = await sha256OfChunks(createReadStream(imagePath));
  const again = await prepareSave(restoredPath);
  let second;
  try {
    second = await sha256OfChunks(again.chunks());
  } finally {
    await again.close();
  }
  const ok = comparison.differingCount === 0 && first.sha256 === second.sha256;
  const imageBytes = (await stat(imagePath)).size;

  say('');
  say(`  volume      ${show(volumePath)}: NTFS ${volumeInfo.majorVersion}.${volumeInfo.minorVersion}, ${formatBytes(volumeBytes)}, clusters of ${formatBytes(boot.clusterSize)}`);
  say(`              ${saveSet.inuse} of ${boot.nrClusters} clusters in use (${formatBytes(saveSet.inuse * boot.clusterSize)})`);
  say(`  saved       ${show(imagePath)}: ${formatBytes(imageBytes)} in ${seconds(saveSeconds)} (ntfsclone image format 10.1)`);
  say(`  restored    ${show(restoredPath)}: ${summary.clusters} clusters in ${seconds(restoreSeconds)}`);
  say(`  check       ${comparison.comparedClusters} used clusters compared: ${comparison.differingCount === 0 ? 'all equal' : `${comparison.differingCount} differ (first: ${comparison.differing.join(', ')})`}`);
  say(`              re-saved image ${second.sha256 === first.sha256 ? 'identical' : 'DIFFERENT'} (sha256 ${first.sha256.slice(0, 16)}...)`);
  say('');
  if (!ok) {
    throw new SnapcloneError('DEMO_VERIFY_FAILED', 'the restored volume does not match the original', {
      kind: 'verify',
      expected: 'equal used clusters and an identical re-saved image',
      actual: `${comparison.differingCount} differing clusters, re-save ${second.sha256 === first.sha256 ? 'identical' : 'different'}`,
    });
  }
  say(`Done in ${seconds((Date.now() - started) / 1000)}. The image is what \`ntfsclone --save-image\` writes, byte for byte;`);
  say(`try \`snapclone info ${show(imagePath)} --verify\` or \`snapclone --help\`.`);
}
