// Which backup sets to delete after a new one is complete: keep the newest N complete sets of a
// label, never delete the only complete set, never touch incomplete ones (cleanup handles those).

export interface SetForRotation {
  name: string;
  label: string;
  date: Date;
  complete: boolean;
}

/**
 * Returns the sets to delete, oldest first. Only complete sets of `label` count and are deleted;
 * `keep` below 1 is treated as 1 so the newest complete set always survives.
 */
export function setsToDelete(sets: readonly SetForRotation[], label: string, keep: number): SetForRotation[] {
  const complete = sets
    .filter((s) => s.complete && s.label === label)
    .sort((a, b) => b.date.getTime() - a.date.getTime() || (a.name < b.name ? 1 : -1));
  const keepCount = Math.max(1, Math.floor(keep));
  return complete.slice(keepCount).reverse();
}
