// Where the shared third-party test inputs live (never committed: see ../shared/testdata/README.md).
// Tests that need them skip loudly when the folder is absent.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

// ../shared/testdata beside the checkout; one level further up for git worktrees in a subfolder.
const CANDIDATES = [join(REPO_ROOT, '..', 'shared', 'testdata'), join(REPO_ROOT, '..', '..', 'shared', 'testdata')];
export const TESTDATA_DIR =
  process.env['SNAPCLONE_TESTDATA'] ?? CANDIDATES.find((d) => existsSync(d)) ?? (CANDIDATES[0] as string);

export const HAVE_TESTDATA = existsSync(TESTDATA_DIR);
if (!HAVE_TESTDATA) {
  console.warn(`\n*** ${TESTDATA_DIR} is missing: tests on third-party inputs are SKIPPED ***\n`);
}

export function testdataPath(...parts: string[]): string {
  return join(TESTDATA_DIR, ...parts);
}
