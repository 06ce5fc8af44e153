// `npm run bench`: runs every benny suite in bench/ (files named *.bench.ts, built to dist/bench/).
// `npm run bench -- bzip2` runs only the suites whose file name contains "bzip2".

import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

const dir = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const suites = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (suites.length === 0) {
  console.error(`no benchmark suite matches ${filters.join(' ') || '(none built)'}`);
  process.exitCode = 1;
}
for (const file of suites) {
  console.log(`\n=== ${file.replace(/\.bench\.js$/, '')} ===`);
  const suite = (await import(pathToFileURL(join(dir, file)).href)) as { run: () => Promise<void> };
  await suite.run();
}
