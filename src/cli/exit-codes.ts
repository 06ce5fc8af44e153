// Exit statuses are part of the interface: scripts depend on them. Documented in README.md.

import type { ErrorKind } from '../core/errors.js';

export const EXIT_OK = 0;

export const EXIT_STATUS: Record<ErrorKind, number> = {
  internal: 1,
  usage: 2,
  input: 3,
  refused: 4,
  io: 5,
  external: 6,
  verify: 7,
  auth: 8,
  interrupted: 130,
};
