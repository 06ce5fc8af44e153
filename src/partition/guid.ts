// GUIDs as GPT stores them (16 bytes, the first three fields little-endian, the last two big-endian)
// and as sfdisk prints them: upper-case 8-4-4-4-12 text. UEFI 2.10 appendix A, "EFI GUID Format".

import { SnapcloneError } from '../core/errors.js';

export const GUID_BYTES = 16;

const HEX = '0123456789ABCDEF';

/** The text form of the GUID stored at `bytes[byteOffset ..+16)`, e.g. "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7". */
export function guidToText(bytes: Uint8Array, byteOffset = 0): string {
  // Field 1 (4 bytes), 2 and 3 (2 bytes each) are little-endian; the last 8 bytes are in order.
  const order = [3, 2, 1, 0, -1, 5, 4, -1, 7, 6, -1, 8, 9, -1, 10, 11, 12, 13, 14, 15];
  let s = '';
  for (const i of order) {
    if (i < 0) {
      s += '-';
      continue;
    }
    const b = bytes[byteOffset + i] as number;
    s += HEX[b >>> 4]! + HEX[b & 15]!;
  }
  return s;
}

const GUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isGuidText(text: string): boolean {
  return GUID_TEXT.test(text);
}

/** Writes the GUID `text` into `target[byteOffset ..+16)` in GPT's mixed-endian order. */
export function guidFromText(text: string, target: Uint8Array = new Uint8Array(GUID_BYTES), byteOffset = 0): Uint8Array {
  if (!isGuidText(text)) {
    throw new SnapcloneError('PT_BAD_GUID', `"${text}" is not a GUID`, {
      expected: 'XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX (hex)',
      actual: text,
    });
  }
  const hex = text.replace(/-/g, '');
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  for (let k = 0; k < GUID_BYTES; k++) {
    target[byteOffset + (order[k] as number)] = Number.parseInt(hex.slice(2 * k, 2 * k + 2), 16);
  }
  return target;
}

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

export function isZeroGuid(bytes: Uint8Array, byteOffset = 0): boolean {
  for (let i = 0; i < GUID_BYTES; i++) if (bytes[byteOffset + i] !== 0) return false;
  return true;
}
