// Resolving a backup SOURCE given as /dev/VG/LV, /dev/mapper/VG-LV (hyphens doubled), VG/LV, or any
// path that leads to an LV's device (/dev/dm-3, /dev/disk/by-id/dm-name-...), to the LV it names.
// Spec: prompts "The LVM layer"; lvm(8) "VALID NAMES"; device-mapper names as in dmsetup(8) splitname.

import { readFile, realpath, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { SnapcloneError } from '../core/errors.js';
import { splitDmName, vgNameProblem, lvNameProblem } from './lvm-names.js';
import type { LvInfo } from './lvm-report.js';
import { noDeviceMapper, type Lvm } from './lvm.js';

export type SourceSpec = { kind: 'lv'; vg: string; lv: string } | { kind: 'path'; path: string };

export interface LvSource {
  vg: string;
  lv: string;
  /** /dev/VG/LV */
  path: string;
  sizeBytes: number;
  info: LvInfo;
}

/**
 * Reads SOURCE's text form (pure). `/dev/VG/LV` and `VG/LV` name an LV directly; `/dev/mapper/NAME`
 * is split as LVM builds device-mapper names; any other absolute path is left for the file system.
 */
export function parseSourceSpec(text: string): SourceSpec {
  const mapper = /^\/dev\/mapper\/([^/]+)$/.exec(text);
  if (mapper) {
    const split = splitDmName(mapper[1]!);
    if (!split || split.layer !== '') throw notAnLv(text, `/dev/mapper/${mapper[1]} is not the device of an LV (no VG-LV name)`);
    return checked(text, split.vg, split.lv);
  }
  const devPath = /^\/dev\/([^/]+)\/([^/]+)$/.exec(text);
  if (devPath && !vgNameProblem(devPath[1]!) && !lvNameProblem(devPath[2]!)) return { kind: 'lv', vg: devPath[1]!, lv: devPath[2]! };
  if (text.startsWith('/')) return { kind: 'path', path: text };
  const short = /^([^/]+)\/([^/]+)$/.exec(text);
  if (short) return checked(text, short[1]!, short[2]!);
  throw new SnapcloneError('LVM_NOT_AN_LV', `"${text}" does not name a logical volume`, {
    kind: 'usage',
    expected: '/dev/VG/LV, /dev/mapper/VG-LV or VG/LV',
    actual: text,
  });
}

function checked(text: string, vg: string, lv: string): SourceSpec {
  const problem = vgNameProblem(vg) ?? lvNameProblem(lv);
  if (problem) throw notAnLv(text, `"${vg}/${lv}" is not a valid LVM name: ${problem}`);
  return { kind: 'lv', vg, lv };
}

/**
 * The LV that `text` names, with its size. Throws LVM_NOT_AN_LV when it names no LV (a file, a
 * partition, a missing LV), LVM_NO_DEVICE_MAPPER when LVM cannot work on this machine at all,
 * LVM_NOT_FOUND when lvm2 is not installed, LVM_SOURCE_IS_SNAPSHOT for a snapshot.
 */
export async function resolveSource(text: string, lvm: Lvm): Promise<LvSource> {
  let spec = parseSourceSpec(text);
  if (spec.kind === 'path') spec = await lvOfDevicePath(text, spec.path);
  const info = await lvm.findLv(spec.vg, spec.lv);
  if (!info) {
    // A missing LV on a machine whose kernel cannot map any LV: say so, it is the real problem.
    const problem = await lvm.deviceMapperProblem();
    if (problem !== undefined) throw noDeviceMapper(problem);
    throw notAnLv(text, `no logical volume ${spec.vg}/${spec.lv}`, 'list the logical volumes with `lvs`');
  }
  if (info.isSnapshot) {
    throw new SnapcloneError('LVM_SOURCE_IS_SNAPSHOT', `${spec.vg}/${spec.lv} is itself a snapshot (of ${info.origin ?? '?'})`, {
      kind: 'refused',
      hint: `back up the origin LV ${spec.vg}/${info.origin ?? '?'} instead; LVM cannot snapshot a snapshot`,
    });
  }
  return { vg: info.vgName, lv: info.name, path: info.path || `/dev/${info.vgName}/${info.name}`, sizeBytes: info.sizeBytes, info };
}

/**
 * Follows symlinks to the device node; a device-mapper device's name is in sysfs under its device
 * number, whatever the node is called (/dev/dm-3 with udev, /dev/mapper/NAME without).
 */
async function lvOfDevicePath(text: string, path: string): Promise<{ kind: 'lv'; vg: string; lv: string }> {
  let target: string;
  let rdev: number;
  try {
    target = await realpath(path);
    const st = await stat(target);
    if (!st.isBlockDevice()) throw notAnLv(text, `${target} is not a block device`);
    rdev = st.rdev;
  } catch (e) {
    if (e instanceof SnapcloneError) throw e;
    const errno = (e as NodeJS.ErrnoException).code;
    throw notAnLv(text, errno === 'ENOENT' ? `${path} does not exist` : `cannot follow ${path}: ${(e as Error).message}`);
  }
  const mapper = /^\/dev\/mapper\/([^/]+)$/.exec(target);
  let name: string;
  if (mapper) name = mapper[1]!;
  else {
    const { major, minor } = deviceNumber(rdev);
    try {
      name = (await readFile(`/sys/dev/block/${major}:${minor}/dm/name`, 'utf8')).trim();
    } catch {
      throw notAnLv(text, `${target} (device ${major}:${minor}) is not a device-mapper device`);
    }
  }
  const split = splitDmName(name);
  if (!split || split.layer !== '') throw notAnLv(text, `${basename(target)} is device-mapper device "${name}", not an LV`);
  return { kind: 'lv', vg: split.vg, lv: split.lv };
}

/** Linux's dev_t encoding (glibc gnu_dev_major/minor), for numbers within 2^53. */
function deviceNumber(rdev: number): { major: number; minor: number } {
  const high = Math.floor(rdev / 2 ** 32);
  const low = rdev >>> 0;
  return { major: ((low >>> 8) & 0xfff) | ((high & 0xfffff000) >>> 0), minor: ((low & 0xff) | ((low >>> 12) & 0xfff00) | ((high & 0xfff) << 20)) >>> 0 };
}

function notAnLv(text: string, why: string, hint?: string): SnapcloneError {
  return new SnapcloneError('LVM_NOT_AN_LV', `${text} is not a logical volume: ${why}`, {
    kind: 'usage',
    hint: hint ?? 'give the LV as /dev/VG/LV, /dev/mapper/VG-LV or VG/LV',
  });
}
