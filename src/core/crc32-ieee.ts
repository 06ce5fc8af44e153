// CRC-32 as zlib, GPT and ethernet compute it: reflected polynomial 0xEDB88320, init and final XOR
// 0xFFFFFFFF (check value of "123456789" = 0xCBF43926). GPT headers and entry arrays use it.
// bzip2's CRC is a different, MSB-first CRC; it lives in src/bzip2/crc.ts.

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE) of `bytes`; pass a previous result as `crc` to continue over several pieces. */
export function crc32Ieee(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = (TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
