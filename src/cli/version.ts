// The tool's version, read once from package.json (dist/src/cli -> repository root).

import { readFileSync } from 'node:fs';

export const TOOL_VERSION: string = (() => {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'snapclone' && pkg.version) return pkg.version;
    } catch {
      // try the next layout (built vs. run from source)
    }
  }
  return '0.0.0';
})();
