// `snapclone list DIR`: the backup sets in a destination, newest first, with size, date, whether each
// is complete (incomplete: temporaries of live or dead runs, sets without a valid manifest, damaged
// sets) and quiesced. Spec: issue 5 (prompts) "list".

import { Command } from 'commander';
import { formatBytes } from '../../core/units.js';
import { listSets, type SetEntry } from '../../backup/set-inventory.js';

export function registerList(program: Command): void {
  program
    .command('list')
    .description('list the backup sets in a directory, newest first: size, date, complete or not, quiesced or not')
    .argument('<dir>', 'the directory given to backup --dest')
    .option('--json', 'print one JSON object on stdout')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const sets = await listSets(dir);
      if (opts.json) process.stdout.write(`${JSON.stringify({ dir, sets: sets.map(jsonEntry) })}\n`);
      else process.stdout.write(textTable(dir, sets));
    });
}

function jsonEntry(s: SetEntry): Record<string, unknown> {
  const m = s.manifest;
  return {
    name: s.name,
    path: s.path,
    label: s.label,
    date: s.date.toISOString(),
    status: s.status,
    complete: s.status === 'complete',
    sizeBytes: s.sizeBytes,
    consistency: m?.consistency ?? null,
    quiesced: m ? m.consistency === 'quiesced' : null,
    source: m?.source.path ?? null,
    diskSizeBytes: m?.disk.sizeBytes ?? null,
    images: m?.partitions.length ?? null,
    ...(s.problem ? { problem: s.problem } : {}),
    ...(s.pid !== undefined ? { pid: s.pid } : {}),
  };
}

function textTable(dir: string, sets: SetEntry[]): string {
  if (sets.length === 0) return `no backup sets in ${dir}\n`;
  const rows = sets.map((s) => [
    s.name,
    s.date.toISOString().replace('.000Z', 'Z'),
    formatBytes(s.sizeBytes),
    s.status,
    s.manifest?.consistency ?? '-',
    s.problem ? `${s.problem.code}: ${s.problem.message}` : `${s.manifest?.partitions.length ?? 0} image(s) of ${s.manifest?.source.path ?? '?'}`,
  ]);
  const header = ['SET', 'DATE (UTC)', 'SIZE', 'STATUS', 'CONSISTENCY', 'DETAIL'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 2 ? c.padStart(widths[i] as number) : i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  const complete = sets.filter((s) => s.status === 'complete').length;
  return `${[fmt(header), ...rows.map(fmt)].join('\n')}\n${complete} complete set${complete === 1 ? '' : 's'} of ${sets.length}\n`;
}
