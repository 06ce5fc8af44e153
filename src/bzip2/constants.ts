// bzip2 stream constants (libbzip2 bzlib_private.h names where it has them); spec §1.

/** "BZh" */
export const BZ_HDR_B = 0x42;
export const BZ_HDR_Z = 0x5a;
export const BZ_HDR_h = 0x68;
/** '1'..'9' */
export const BZ_HDR_0 = 0x30;

/** Block header magic 0x314159265359 (BCD pi), as two halves of 24 bits. */
export const BLOCK_MAGIC_HI = 0x314159;
export const BLOCK_MAGIC_LO = 0x265359;
/** End-of-stream magic 0x177245385090 (BCD sqrt(pi)). */
export const EOS_MAGIC_HI = 0x177245;
export const EOS_MAGIC_LO = 0x385090;

export const BZ_MAX_ALPHA_SIZE = 258;
export const BZ_MAX_CODE_LEN = 23; // decoder bound in libbzip2; lengths above 20 are rejected on read
export const BZ_RUNA = 0;
export const BZ_RUNB = 1;
export const BZ_N_GROUPS = 6;
export const BZ_G_SIZE = 50;
export const BZ_N_ITERS = 4;
export const BZ_MAX_SELECTORS = 2 + (900000 / BZ_G_SIZE); // 18002

/** Post-RLE1 bytes a block may hold at `level` (what decoders accept). */
export function maxBlockBytes(level: number): number {
  return 100000 * level;
}
