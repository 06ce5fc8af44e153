// What SOURCE names for `snapclone backup`: a logical volume (snapshotted), or a regular file or a
// block device that is not an LV (read live, with a warning). LVM is asked only when the name could
// be an LV. A source mounted read-write (or with a partition mounted read-write) is refused.
// Spec: issue 5 "backup", SOURCE.

import { readdir, readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { isSnapcloneError, SnapcloneError } from '../core/errors.js';
import { findMounts, parseMountInfo } from '../io/mount-check.js';
import { ioError } from '../io/source-file.js';
import type { Lvm } from '../lvm/lvm.js';
import { parseSourceSpec, resolveSource, type LvSource } from '../lvm/source.js';

export type BackupSource =
  | { kind: 'lv'; text: string; lv: LvSource }
  | { kind: 'file' | 'block-device'; text: string; path: string };

/** Errors that mean "this block device is not an LV" (or LVM cannot tell: then it is not one we can snapshot). */
const NOT_AN_LV = new Set(['LVM_NOT_AN_LV', 'LVM_NOT_FOUND', 'LVM_NO_DEVICE_MAPPER']);

export async function classifySource(text: string, lvm: Lvm): Promise<BackupSource> {
  let kind: 'file' | 'block-device' | 'missing';
  try {
    const st = await stat(text);
    if (st.isDirectory()) throw new SnapcloneError('USAGE_BAD_SOURCE', `${text} is a directory, not a disk`, { kind: 'usage', path: text });
    kind = st.isBlockDevice() ? 'block-device' : st.isFile() ? 'file' : 'missing';
    if (kind === 'missing') throw new SnapcloneError('USAGE_BAD_SOURCE', `${text} is not a file, a block device or a logical volume`, { kind: 'usage', path: text });
  } catch (e) {
    if (isSnapcloneError(e)) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, text, 'stat');
    kind = 'missing';
  }
  if (kind === 'file') return { kind: 'file', text, path: text };
  if (kind === 'missing') {
    // Not a path that exists: VG/LV (or /dev/VG/LV of an inactive LV), or nothing at all.
    const spec = (() => {
      try {
        return parseSourceSpec(text);
      } catch {
        return undefined;
      }
    })();
    if (!spec || (spec.kind === 'path' && !text.startsWith('/dev/'))) {
      throw new SnapcloneError('IO_ENOENT', `${text} does not exist`, { kind: 'usage', path: text, hint: 'give a logical volume (/dev/VG/LV or VG/LV), a block device or a disk image file' });
    }
    return { kind: 'lv', text, lv: await resolveSource(text, lvm) };
  }
  try {
    return { kind: 'lv', text, lv: await resolveSource(text, lvm) };
  } catch (e) {
    if (isSnapcloneError(e) && NOT_AN_LV.has(e.code)) return { kind: 'block-device', text, path: text };
    throw e;
  }
}

/** The default set label: the LV's name, or the file's base name without its extension. */
export function defaultLabel(source: BackupSource): string {
  if (source.kind === 'lv') return sanitizeLabel(source.lv.lv);
  const base = basename(source.path);
  const dot = base.lastIndexOf('.');
  return sanitizeLabel(dot > 0 ? base.slice(0, dot) : base);
}

function sanitizeLabel(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.+-]/g, '_').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return s === '' ? 'disk' : s;
}

/**
 * Refuses a live source that is mounted read-write, or whose partitions are (a block device's
 * partitions are separate devices: /sys/dev/block/M:m/<part>/dev).
 */
export async function refuseMountedSource(path: string): Promise<void> {
  const rw = (await findMounts(path)).find((m) => !m.readOnly);
  if (rw) throw mountedError(path, rw.mountPoint);
  let st;
  try {
    st = await stat(path);
  } catch {
    return;
  }
  if (!st.isBlockDevice()) return;
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((Math.floor(st.rdev / 4096) & 0xfff00) >>> 0);
  const sys = `/sys/dev/block/${major}:${minor}`;
  const partitions = new Set<string>();
  for (const name of await readdir(sys).catch(() => [] as string[])) {
    const dev = await readFile(`${sys}/${name}/dev`, 'utf8').catch(() => undefined);
    if (dev !== undefined && (await stat(`${sys}/${name}/partition`).catch(() => undefined))) partitions.add(dev.trim());
  }
  if (partitions.size === 0) return;
  const mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''));
  const hit = mounts.find((m) => partitions.has(m.majorMinor) && !m.readOnly);
  if (hit) throw mountedError(path, hit.mountPoint);
}

function mountedError(path: string, mountPoint: string): SnapcloneError {
  return new SnapcloneError('IO_MOUNTED', `${path} (or one of its partitions) is mounted read-write on ${mountPoint}: a live copy would be inconsistent`, {
    kind: 'refused',
    path,
    hint: `unmount it (umount ${mountPoint}), or back up an LVM logical volume so that a snapshot is taken`,
  });
}
