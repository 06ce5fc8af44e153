// How long-running work reports progress without knowing how it is shown.
// The CLI provides a bar on a terminal, JSON lines with --progress json, or nothing with -q.

export interface Progress {
  /** A new phase starts; `totalBytes` undefined when unknown (stdin). */
  begin(phase: string, totalBytes?: number): void;
  /** `doneBytes` so far in the current phase (absolute, not a delta). */
  update(doneBytes: number): void;
  /** The current phase finished. */
  end(): void;
  /** A human-readable remark (a warning or a step) that belongs in the output stream. */
  note(message: string): void;
}

export const silentProgress: Progress = {
  begin() {},
  update() {},
  end() {},
  note() {},
};

/** Renames the phases a lower layer reports ("Saving the image") after the partition worked on. */
export function prefixedProgress(inner: Progress, prefix: string): Progress {
  return {
    begin: (phase, totalBytes) => inner.begin(`${prefix}: ${phase.charAt(0).toLowerCase()}${phase.slice(1)}`, totalBytes),
    update: (doneBytes) => inner.update(doneBytes),
    end: () => inner.end(),
    note: (message) => inner.note(message),
  };
}
