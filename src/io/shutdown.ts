// Work to undo when the process is interrupted (SIGINT/SIGTERM) or fails: remove a snapshot, a
// temporary set, a lock. Hooks run by priority (highest first: thawing a frozen guest must not
// wait behind snapshot removal), then newest first, each at most once. The CLI installs the
// signal handlers; lower layers only register and unregister hooks.

export type ShutdownHook = () => Promise<void> | void;

/** Runs before everything else: undoing something that hurts a live system (a frozen guest). */
export const SHUTDOWN_PRIORITY_URGENT = 10;
export const SHUTDOWN_PRIORITY_NORMAL = 0;

const hooks: { name: string; run: ShutdownHook; priority: number }[] = [];

/** Registers `run` and returns a function that unregisters it (call that on the normal path). */
export function onShutdown(name: string, run: ShutdownHook, priority = SHUTDOWN_PRIORITY_NORMAL): () => void {
  const entry = { name, run, priority };
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
    // Highest priority first; among equals the newest (last registered) first.
    let pick = hooks.length - 1;
    for (let i = hooks.length - 2; i >= 0; i--) if (hooks[i]!.priority > hooks[pick]!.priority) pick = i;
    const entry = hooks.splice(pick, 1)[0]!;
    try {
      await entry.run();
      results.push({ name: entry.name });
    } catch (error) {
      results.push({ name: entry.name, error });
    }
  }
  return results;
}
