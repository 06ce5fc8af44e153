// Partition mappings that kpartx (or an older tool, or a killed run) stacked on an LV: finding them
// and removing them, since a mapping holds its LV open and blocks lvremove. snapclone itself reads
// partitions by offset and never creates such mappings. Spec: anchors.md §4 items 3-4, kpartx(8).

import { SnapcloneError } from '../core/errors.js';
import { DMSETUP_INFO_ARGS, parseDmsetupInfo, type DmDevice } from './dmsetup-info.js';
import { lvDmUuid, type LvInfo } from './lvm-report.js';
import { dmName } from './lvm-names.js';
import type { Lvm } from './lvm.js';
import { ToolError } from './run-tool.js';

/** kpartx gives each partition map the UUID "part<N>-" + the UUID of the device it maps. */
const KPARTX_UUID = /^part\d+-(.+)$/;

export async function listDmDevices(lvm: Lvm): Promise<DmDevice[]> {
  return parseDmsetupInfo((await lvm.dmsetup(DMSETUP_INFO_ARGS)).stdout);
}

/**
 * The mappings stacked on `lv` by kpartx and look-alikes: by kpartx's UUID scheme, or, for tools that
 * set no UUID, by a name made of the LV's device-mapper name, an optional "p" and a partition number.
 */
export function mappingsOf(lv: Pick<LvInfo, 'vgName' | 'name' | 'uuid' | 'vgUuid'>, devices: readonly DmDevice[]): DmDevice[] {
  const uuid = lvDmUuid(lv);
  const namePattern = new RegExp(`^${escapeRegExp(dmName(lv.vgName, lv.name))}(p|-part|_)?\\d+$`);
  return devices.filter((d) => {
    const m = KPARTX_UUID.exec(d.uuid);
    if (m) return m[1] === uuid;
    return d.uuid === '' && namePattern.test(d.name);
  });
}

/**
 * Removes a device-mapper device, retrying while it is busy. Resolves false when it was already
 * gone. Throws LVM_MAPPING_BUSY when something still holds it after the retries.
 */
export async function removeDmDevice(lvm: Lvm, name: string, retryDelaysMs: readonly number[] = DEFAULT_RETRY_DELAYS_MS): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await lvm.dmsetup(['remove', '--', name]);
      return true;
    } catch (e) {
      if (!(e instanceof ToolError)) throw e;
      if (/No such device|not found/i.test(e.stderr)) return false;
      if (!/busy|in use/i.test(e.stderr)) throw e;
      const delay = retryDelaysMs[attempt];
      if (delay === undefined) {
        throw new SnapcloneError('LVM_MAPPING_BUSY', `device-mapper device ${name} stays in use: ${e.message}`, {
          kind: 'external',
          hint: `find what holds it: \`dmsetup info ${name}\`, \`findmnt\`, \`fuser -vm /dev/mapper/${name}\``,
          cause: e,
        });
      }
      await sleep(delay);
    }
  }
}

/** Removes every mapping stacked on `lv`, returning the names removed. */
export async function removeMappingsOf(lvm: Lvm, lv: Pick<LvInfo, 'vgName' | 'name' | 'uuid' | 'vgUuid'>): Promise<string[]> {
  const removed: string[] = [];
  // Partition maps can themselves be stacked (a map of a map): remove the ones nobody holds first.
  for (let round = 0; round < 8; round++) {
    const found = mappingsOf(lv, await listDmDevices(lvm));
    if (found.length === 0) break;
    for (const device of [...found].sort((a, b) => a.openCount - b.openCount)) {
      if (await removeDmDevice(lvm, device.name)) removed.push(device.name);
    }
  }
  return removed;
}

export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [250, 500, 1000, 2000];

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
