// The real partitioning tools as oracles: sfdisk makes, dumps (-d, -J) and verifies (-V) tables on plain
// files; fdisk -b 4096 does the same for 4096-byte sectors, which this sfdisk (2.38) cannot.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { open, truncate, writeFile } from 'node:fs/promises';
import { runCommand } from './cli.js';

const execFileP = promisify(execFile);

export interface OraclePartition {
  number: number;
  start: number;
  size: number;
  type: string;
  bootable?: boolean;
  name?: string;
  uuid?: string;
  attrs?: string;
}

export interface OracleTable {
  label: string;
  id: string;
  sectorSize: number;
  firstLba?: number;
  lastLba?: number;
  partitions: OraclePartition[];
}

/** Creates (or resizes) a sparse file of `sizeBytes` and partitions it with an sfdisk script. */
export async function sfdiskCreate(path: string, sizeBytes: number, script: string): Promise<void> {
  await writeFile(path, new Uint8Array(0));
  await truncate(path, sizeBytes);
  const r = await runCommand('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', '-w', 'never', path], { input: Buffer.from(script) });
  if (r.status !== 0) throw new Error(`sfdisk failed (${r.status}): ${r.stderr}`);
}

/** `sfdisk -J`, with partition numbers taken from the device node names. */
export async function sfdiskJson(path: string): Promise<OracleTable> {
  const { stdout } = await execFileP('sfdisk', ['-J', path]);
  const t = (JSON.parse(stdout) as { partitiontable: Record<string, unknown> }).partitiontable;
  const parts = (t['partitions'] as Record<string, unknown>[] | undefined) ?? [];
  const table: OracleTable = {
    label: t['label'] as string,
    id: t['id'] as string,
    sectorSize: t['sectorsize'] as number,
    partitions: parts.map((p) => {
      const o: OraclePartition = {
        number: Number(/(\d+)$/.exec(p['node'] as string)?.[1]),
        start: p['start'] as number,
        size: p['size'] as number,
        type: p['type'] as string,
      };
      if (p['bootable'] === true) o.bootable = true;
      if (typeof p['name'] === 'string') o.name = p['name'];
      if (typeof p['uuid'] === 'string') o.uuid = p['uuid'];
      if (typeof p['attrs'] === 'string') o.attrs = p['attrs'];
      return o;
    }),
  };
  if (typeof t['firstlba'] === 'number') table.firstLba = t['firstlba'];
  if (typeof t['lastlba'] === 'number') table.lastLba = t['lastlba'];
  return table;
}

/** `sfdisk -d` with the device path replaced by "DISK", and what it printed on stderr. */
export async function sfdiskDump(path: string): Promise<{ dump: string; stderr: string }> {
  const r = await runCommand('sfdisk', ['-d', path]);
  if (r.status !== 0) throw new Error(`sfdisk -d failed: ${r.stderr}`);
  return { dump: r.stdout.toString().split(path).join('DISK'), stderr: r.stderr };
}

/** `sfdisk -V`: clean when it says "No errors detected." and complains about nothing on stderr. */
export async function sfdiskVerify(path: string): Promise<{ clean: boolean; output: string }> {
  const r = await runCommand('sfdisk', ['-V', path]);
  const output = `${r.stdout.toString()}${r.stderr}`;
  return { clean: r.stdout.toString().includes('No errors detected.') && r.stderr.trim() === '', output };
}

/** Runs interactive fdisk with `-b sectorSize` and the given keystrokes (one command per line). */
export async function fdiskScript(path: string, sectorSize: number, keys: string): Promise<string> {
  const r = await runCommand('fdisk', ['-b', String(sectorSize), path], { input: Buffer.from(keys) });
  if (r.status !== 0) throw new Error(`fdisk failed (${r.status}): ${r.stderr}`);
  return r.stdout.toString();
}

/**
 * fdisk's "O" command: the table as an sfdisk script (the -d format), read with `sectorSize`-byte
 * sectors. Device names become "DISK".
 */
export async function fdiskDump(path: string, sectorSize: number, scratchFile: string): Promise<string> {
  await fdiskScript(path, sectorSize, `O\n${scratchFile}\nq\n`);
  const h = await open(scratchFile, 'r');
  try {
    return (await h.readFile('utf8')).split(path).join('DISK');
  } finally {
    await h.close();
  }
}

/** Parses an sfdisk -d script into the oracle shape (for fdisk dumps, where -J is unavailable). */
export function parseSfdiskDump(dump: string): OracleTable {
  const header = new Map<string, string>();
  const partitions: OraclePartition[] = [];
  for (const line of dump.split('\n')) {
    const m = /^(\S+?)(\d+)\s*:\s*(.*)$/.exec(line);
    if (m && line.includes('start=')) {
      const fields = new Map<string, string>();
      let bootable = false;
      for (const part of (m[3] as string).split(/,\s*(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
        const kv = /^\s*([a-z-]+)=\s*(.*)$/.exec(part);
        if (kv) fields.set(kv[1] as string, unescapeDump((kv[2] as string).replace(/^"|"$/g, '')));
        else if (part.trim() === 'bootable') bootable = true;
      }
      const p: OraclePartition = {
        number: Number(m[2]),
        start: Number(fields.get('start')),
        size: Number(fields.get('size')),
        type: fields.get('type') as string,
      };
      if (bootable) p.bootable = true;
      for (const k of ['name', 'uuid', 'attrs'] as const) if (fields.has(k)) p[k] = fields.get(k) as string;
      partitions.push(p);
    } else {
      const h = /^([a-z-]+):\s*(.*)$/.exec(line);
      if (h) header.set(h[1] as string, h[2] as string);
    }
  }
  const table: OracleTable = {
    label: header.get('label') as string,
    id: header.get('label-id') as string,
    sectorSize: Number(header.get('sector-size') ?? 512),
    partitions,
  };
  if (header.has('first-lba')) table.firstLba = Number(header.get('first-lba'));
  if (header.has('last-lba')) table.lastLba = Number(header.get('last-lba'));
  return table;
}

/** sfdisk -d writes non-ASCII name bytes as \xHH; turn them back into text. */
function unescapeDump(text: string): string {
  if (!text.includes('\\x')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const m = /^\\x([0-9a-fA-F]{2})/.exec(text.slice(i, i + 4));
    if (m) {
      bytes.push(Number.parseInt(m[1] as string, 16));
      i += 3;
    } else {
      bytes.push(...new TextEncoder().encode(text[i] as string));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
