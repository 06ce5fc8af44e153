// Is a file or block device mounted? Read from /proc/self/mountinfo: a kernel mount names the
// device by number, a FUSE mount (ntfs-3g) names its source path, a loop mount names a loop device
// whose backing file is in sysfs. ntfsclone refuses a source mounted read-write and any mounted
// restore target; so do we. Spec: docs/spec/ntfsclone-format.md §4 (check 3) and §5.

import { readFile, realpath, stat } from 'node:fs/promises';
import { SnapcloneError } from '../core/errors.js';

export interface MountEntry {
  mountPoint: string;
  source: string;
  fsType: string;
  readOnly: boolean;
}

/** Undoes mountinfo's octal escapes (\040 for a space, \011, \012, \134). */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountInfo(text: string): (MountEntry & { majorMinor: string })[] {
  const out: (MountEntry & { majorMinor: string })[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 4) continue;
    const mountOptions = (fields[5] ?? '').split(',');
    const superOptions = (fields[dash + 3] ?? '').split(',');
    out.push({
      majorMinor: fields[2] ?? '',
      mountPoint: unescapeMountField(fields[4] ?? ''),
      fsType: fields[dash + 1] ?? '',
      source: unescapeMountField(fields[dash + 2] ?? ''),
      readOnly: mountOptions.includes('ro') || superOptions.includes('ro'),
    });
  }
  return out;
}

async function realpathOrSelf(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    return p;
  }
}

/** Every mount whose source is `path` (the file or device itself, or a loop device over it). */
export async function findMounts(path: string): Promise<MountEntry[]> {
  let text: string;
  try {
    text = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return []; // no procfs (not Linux): nothing to check against
  }
  const target = await realpathOrSelf(path);
  let rdev: string | undefined;
  try {
    const st = await stat(target);
    if (st.isBlockDevice()) rdev = `${Math.floor(st.rdev / 256) & 0xfff}:${(st.rdev & 0xff) | ((Math.floor(st.rdev / 4096) & 0xfff00) >>> 0)}`;
  } catch {
    return [];
  }
  const found: MountEntry[] = [];
  for (const m of parseMountInfo(text)) {
    let hit = rdev !== undefined && m.majorMinor === rdev;
    if (!hit && m.source.startsWith('/')) {
      const src = await realpathOrSelf(m.source);
      hit = src === target;
      const loop = /^\/dev\/(loop\d+)$/.exec(src);
      if (!hit && loop) {
        const backing = await readFile(`/sys/block/${loop[1]}/loop/backing_file`, 'utf8').catch(() => '');
        hit = backing.trim() === target;
      }
    }
    if (hit) found.push({ mountPoint: m.mountPoint, source: m.source, fsType: m.fsType, readOnly: m.readOnly });
  }
  return found;
}

/** Refuses a source that is mounted read-write (a read-only mount is fine, as with ntfsclone). */
export async function refuseMountedReadWrite(path: string): Promise<void> {
  const rw = (await findMounts(path)).filter((m) => !m.readOnly);
  if (rw.length > 0) {
    throw new SnapcloneError('IO_MOUNTED', `${path} is mounted read-write on ${rw[0]?.mountPoint}`, {
      kind: 'refused',
      path,
      hint: `unmount it first (umount ${rw[0]?.mountPoint}), or mount it read-only, or image an LVM snapshot of it`,
    });
  }
}

/** Refuses a restore target that is mounted at all. */
export async function refuseMounted(path: string): Promise<void> {
  const any = await findMounts(path);
  if (any.length > 0) {
    throw new SnapcloneError('IO_MOUNTED', `${path} is mounted on ${any[0]?.mountPoint}`, {
      kind: 'refused',
      path,
      hint: `unmount it first (umount ${any[0]?.mountPoint})`,
    });
  }
}
