// LVM naming rules (pure): VG/LV name validity, device-mapper names with doubled hyphens, and the
// names and tags that mark a snapshot as snapclone's. Spec: lvm(8) "VALID NAMES", dmsetup(8) splitname.

import { SnapcloneError } from '../core/errors.js';

/** Every snapshot snapclone creates carries this tag, so `lvs @snapclone` finds leftovers. */
export const SNAPCLONE_TAG = 'snapclone';
/** A second tag names the origin: `snapclone-origin-<dm name of VG/LV>`. */
export const ORIGIN_TAG_PREFIX = 'snapclone-origin-';
export const SNAPSHOT_NAME_PREFIX = 'snapclone-';

/** lvm2's NAME_LEN is 128 with the NUL; device-mapper's DM_NAME_LEN likewise. */
const MAX_NAME_CHARS = 127;
const MAX_DM_NAME_CHARS = 127;
/** The longest layer LVM appends to a snapshot's device-mapper name ("-cow"). */
const SNAPSHOT_LAYER_SUFFIX = '-cow';

const NAME_CHARSET = /^[A-Za-z0-9+_.-]+$/;
/** Substrings lvm reserves for its internal sub-LVs (lvm(8)). */
const RESERVED_LV_SUBSTRINGS = [
  '_cdata',
  '_cmeta',
  '_corig',
  '_iorig',
  '_mimage',
  '_mlog',
  '_pmspare',
  '_rimage',
  '_rmeta',
  '_tdata',
  '_tmeta',
  '_vdata',
  '_vorigin',
  '_wcorig',
];

/** Why `name` is not a valid VG name, or undefined when it is. */
export function vgNameProblem(name: string): string | undefined {
  return commonNameProblem(name);
}

/** Why `name` is not a valid name for a new LV, or undefined when it is. */
export function lvNameProblem(name: string): string | undefined {
  const common = commonNameProblem(name);
  if (common) return common;
  if (name.startsWith('snapshot') || name.startsWith('pvmove')) return 'names starting with "snapshot" or "pvmove" are reserved';
  const reserved = RESERVED_LV_SUBSTRINGS.find((s) => name.includes(s));
  if (reserved) return `"${reserved}" is reserved for LVM's internal volumes`;
  return undefined;
}

function commonNameProblem(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (name.length > MAX_NAME_CHARS) return `the name is longer than ${MAX_NAME_CHARS} characters`;
  if (!NAME_CHARSET.test(name)) return 'only letters, digits and + _ . - are allowed';
  if (name.startsWith('-')) return 'the name cannot begin with a hyphen';
  if (name === '.' || name === '..') return '"." and ".." are not names';
  return undefined;
}

/** Throws LVM_BAD_NAME (a usage error) unless `vg`/`lv` are valid names. */
export function assertVgLvNames(vg: string, lv: string, what: string): void {
  const problem = vgNameProblem(vg) ? `VG name "${vg}": ${vgNameProblem(vg)}` : lvNameProblem(lv) ? `LV name "${lv}": ${lvNameProblem(lv)}` : undefined;
  if (problem) throw new SnapcloneError('LVM_BAD_NAME', `${what}: ${problem}`, { kind: 'usage' });
}

/** The device-mapper name of VG/LV: hyphens inside each part are doubled, one hyphen joins them. */
export function dmName(vg: string, lv: string, layer?: string): string {
  const base = `${vg.replace(/-/g, '--')}-${lv.replace(/-/g, '--')}`;
  return layer === undefined ? base : `${base}-${layer}`;
}

/**
 * Splits a device-mapper name made by LVM back into VG, LV and layer (what `dmsetup splitname`
 * does): a doubled hyphen is a hyphen, a single one separates the parts. Undefined when `name` has
 * no separator (not an LVM name).
 */
export function splitDmName(name: string): { vg: string; lv: string; layer: string } | undefined {
  const [vg, afterVg] = unquoteComponent(name, 0);
  const [lv, afterLv] = unquoteComponent(name, afterVg);
  const [layer] = unquoteComponent(name, afterLv);
  if (vg === '' || lv === '') return undefined;
  return { vg, lv, layer };
}

/**
 * One component of a device-mapper name from `start`: "--" stands for "-", a single "-" ends the
 * component, and a "-" that is the very last character is kept (libdevmapper's _unquote does this).
 * Returns the component and where the next one starts.
 */
function unquoteComponent(name: string, start: number): [string, number] {
  let out = '';
  let i = start;
  while (i < name.length) {
    const c = name[i]!;
    if (c === '-' && i + 1 < name.length) {
      if (name[i + 1] !== '-') return [out, i + 1];
      i++; // the doubled hyphen: keep one
    }
    out += c;
    i++;
  }
  return [out, i];
}

/** "20261126T103555Z": a UTC stamp that sorts as text and is valid in LV names. */
export function utcStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The name of a new snapshot of VG/LV: `snapclone-<lv>-<UTC stamp>`. The LV part is shortened when
 * the name, or the device-mapper name of its copy-on-write device, would pass LVM's limits.
 */
export function snapshotName(vg: string, lv: string, date: Date): string {
  const stamp = utcStamp(date);
  const fixed = `${SNAPSHOT_NAME_PREFIX}-${stamp}`;
  let lvPart = lv;
  const fits = (part: string): boolean => {
    const name = `${SNAPSHOT_NAME_PREFIX}${part}-${stamp}`;
    return name.length <= MAX_NAME_CHARS && dmName(vg, name).length + SNAPSHOT_LAYER_SUFFIX.length <= MAX_DM_NAME_CHARS;
  };
  while (lvPart.length > 0 && !fits(lvPart)) lvPart = lvPart.slice(0, -1);
  if (!fits(lvPart)) {
    throw new SnapcloneError('LVM_BAD_NAME', `VG name "${vg}" is too long to name a snapshot in it`, {
      kind: 'refused',
      expected: `a device-mapper name of at most ${MAX_DM_NAME_CHARS} characters`,
      actual: dmName(vg, `${fixed}`).length + SNAPSHOT_LAYER_SUFFIX.length,
    });
  }
  return `${SNAPSHOT_NAME_PREFIX}${lvPart}-${stamp}`;
}

/** The tag that says which LV a snapclone snapshot belongs to. */
export function originTag(vg: string, lv: string): string {
  return `${ORIGIN_TAG_PREFIX}${dmName(vg, lv)}`;
}

/** VG/LV named by an origin tag, or undefined for any other tag. */
export function parseOriginTag(tag: string): { vg: string; lv: string } | undefined {
  if (!tag.startsWith(ORIGIN_TAG_PREFIX)) return undefined;
  const split = splitDmName(tag.slice(ORIGIN_TAG_PREFIX.length));
  return split && split.layer === '' ? { vg: split.vg, lv: split.lv } : undefined;
}

/** Tags keep to [A-Za-z0-9_+.-], a subset of what lvm2 accepts that needs no quoting anywhere. */
export function isPortableTag(tag: string): boolean {
  return tag.length > 0 && tag.length <= 1024 && /^[A-Za-z0-9_+.-]+$/.test(tag) && !tag.startsWith('-');
}
