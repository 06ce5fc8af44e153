import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('snapclone CLI', () => {
  it('prints its version', async () => {
    const r = await runCli(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toMatch(/^\d+\.\d+\.\d+/);
  });
  it('exits 2 on an unknown option', async () => {
    const r = await runCli(['--no-such-option']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown option');
  });
});
