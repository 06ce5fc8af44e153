import { describe, expect, it } from 'vitest';
import { onShutdown, runShutdownHooks, SHUTDOWN_PRIORITY_URGENT } from '../../src/io/shutdown.js';

describe('shutdown hooks', () => {
  it('run urgent hooks first, then newest first, each once; unregistered ones never', async () => {
    const order: string[] = [];
    onShutdown('remove snapshot', () => void order.push('snapshot'));
    onShutdown('thaw', () => void order.push('thaw'), SHUTDOWN_PRIORITY_URGENT);
    const off = onShutdown('gone', () => void order.push('gone'));
    onShutdown('remove temp set', () => {
      order.push('temp');
      throw new Error('disk gone');
    });
    off();
    const results = await runShutdownHooks();
    expect(order).toEqual(['thaw', 'temp', 'snapshot']);
    expect(results.map((r) => r.name)).toEqual(['thaw', 'remove temp set', 'remove snapshot']);
    expect((results[1]!.error as Error).message).toBe('disk gone');
    expect(await runShutdownHooks()).toEqual([]);
  });
});
