// Work to undo when the process is interrupted (SIGINT/SIGTERM) or fails: remove a snapshot, a
// temporary set, a lock. Hooks run newest first, each at most once. The CLI installs the signal
// handlers; lower layers only register and unregister hooks.

export type ShutdownHook = () => Promise<void> | void;

const hooks: { name: string; run: ShutdownHook }[] = [];

/** Registers `run` and returns a function that unregisters it (call that on the normal path). */
export function onShutdown(name: string, run: ShutdownHook): () => void {
  const entry = { name, run };
  hooks.push(entry);
  return () => {
    const i = hooks.indexOf(entry);
    if (i >= 0) hooks.splice(i, 1);
  };
}

/** Runs every registered hook, newest first; failures are collected, never thrown. */
export async function runShutdownHooks(): Promise<{ name: string; error?: unknown }[]> {
  const results: { name: string; error?: unknown }[] = [];
  while (hooks.length > 0) {
    const entry = hooks.pop()!;
    try {
      await entry.run();
      results.push({ name: entry.name });
    } catch (error) {
      results.push({ name: entry.name, error });
    }
  }
  return results;
}
