// applyLayout(): carries out planApply() on a target through WriteAt, reporting progress. Nothing is
// written when the plan refuses; the MBR goes last so an interrupted apply leaves no table that looks whole.

import type { Progress } from '../core/progress.js';
import { silentProgress } from '../core/progress.js';
import type { WriteAt } from '../core/read-at.js';
import { planApply, type ApplyOptions, type ApplyPlan } from './apply-plan.js';
import type { DiskLayout } from './layout.js';

export interface ApplyLayoutOptions extends ApplyOptions {
  /** The size to plan for when the target will be extended (a file shorter than the disk); default target.sizeBytes. */
  targetSizeBytes?: number;
  progress?: Progress;
}

export async function applyLayout(layout: DiskLayout, target: WriteAt, options: ApplyLayoutOptions = {}): Promise<ApplyPlan> {
  const plan = planApply(layout, options.targetSizeBytes ?? target.sizeBytes, options);
  const progress = options.progress ?? silentProgress;
  progress.begin('layout', plan.totalBytes);
  let done = 0;
  for (const w of plan.writes) {
    await target.writeAt(w.bytes, w.byteOffset);
    done += w.bytes.byteLength;
    progress.update(done);
  }
  progress.end();
  return plan;
}
