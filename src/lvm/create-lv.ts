// Creating a logical volume in an existing VG (for `restore --create-lv`) and activating an LV.
// Spec: lvcreate(8), lvchange(8); prompts "Creating an LV in an existing VG".

import { SnapcloneError } from '../core/errors.js';
import { formatBytes } from '../core/units.js';
import { assertVgLvNames } from './lvm-names.js';
import type { LvInfo } from './lvm-report.js';
import type { Lvm } from './lvm.js';

export interface CreateLvOptions {
  vg: string;
  name: string;
  /** Rounded up to whole extents by LVM. */
  sizeBytes: number;
}

/**
 * `lvcreate --yes -L SIZE -n NAME VG`, active. Refuses an existing LV (LVM_LV_EXISTS), a missing VG
 * (LVM_VG_NOT_FOUND) and a VG without room (LVM_NO_SPACE), with the numbers, before calling lvcreate.
 */
export async function createLogicalVolume(lvm: Lvm, options: CreateLvOptions): Promise<LvInfo> {
  const { vg, name, sizeBytes } = options;
  assertVgLvNames(vg, name, 'new logical volume');
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
    throw new SnapcloneError('USAGE_BAD_SIZE', `the size of a new LV must be a positive number of bytes`, { kind: 'usage', actual: sizeBytes });
  }
  const vgInfo = await lvm.findVg(vg);
  if (!vgInfo) {
    throw new SnapcloneError('LVM_VG_NOT_FOUND', `volume group ${vg} does not exist`, {
      kind: 'usage',
      hint: 'list them with `vgs`; create one with vgcreate',
    });
  }
  if (await lvm.findLv(vg, name)) {
    throw new SnapcloneError('LVM_LV_EXISTS', `logical volume ${vg}/${name} already exists`, {
      kind: 'refused',
      hint: 'choose another name, or restore onto the existing LV without --create-lv',
    });
  }
  const roundedBytes = Math.ceil(sizeBytes / vgInfo.extentSizeBytes) * vgInfo.extentSizeBytes;
  if (roundedBytes > vgInfo.freeBytes) {
    throw new SnapcloneError('LVM_NO_SPACE', `volume group ${vg} has ${formatBytes(vgInfo.freeBytes)} free, too little for a ${formatBytes(roundedBytes)} LV`, {
      kind: 'refused',
      expected: `${roundedBytes} bytes free`,
      actual: `${vgInfo.freeBytes} bytes free`,
      hint: `extend ${vg} (vgextend) or restore into another VG`,
    });
  }
  // --yes: a stale file-system signature at the new LV's start is wiped without asking (nobody
  // could answer: stdin is not a terminal). Sizes in 512-byte sectors are exact.
  await lvm.run('lvcreate', ['--yes', '--activate', 'y', '--size', `${Math.ceil(sizeBytes / 512)}s`, '--name', name, '--', vg]);
  return activateLogicalVolume(lvm, vg, name);
}

/** Activates VG/LV when it is not active (`lvchange -ay`) and returns it. */
export async function activateLogicalVolume(lvm: Lvm, vg: string, lv: string): Promise<LvInfo> {
  let info = await lvm.findLv(vg, lv);
  if (!info) throw new SnapcloneError('LVM_NOT_AN_LV', `no logical volume ${vg}/${lv}`, { kind: 'usage' });
  if (!info.isActive) {
    await lvm.run('lvchange', ['--activate', 'y', '--', `${vg}/${lv}`]);
    info = await lvm.findLv(vg, lv);
    if (!info?.isActive) {
      throw new SnapcloneError('LVM_NOT_ACTIVE', `${vg}/${lv} is still inactive after lvchange -ay`, {
        kind: 'external',
        hint: 'check activation/volume_list in lvm.conf and the kernel log',
      });
    }
  }
  return info;
}
