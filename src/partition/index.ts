// The partition layer's public API: read a disk's layout, save and load it, plan and apply it onto a
// target, and reach partitions by byte offset. Pure: everything goes through ReadAt / WriteAt.

export { readLayout, type ReadLayoutOptions } from './read-layout.js';
export { encodeSavedLayout, decodeSavedLayout, compareLayouts, SAVED_LAYOUT_VERSION } from './saved-layout.js';
export { planApply, requiredSectorsOf, type ApplyOptions, type ApplyPlan, type PlannedWrite } from './apply-plan.js';
export { applyLayout, type ApplyLayoutOptions } from './apply-layout.js';
export { findPartition, partitionReader, partitionWriter, partitionView } from './partition-view.js';
export {
  partitionByteRange,
  partitionEndLba,
  dataPartitions,
  lastDataPartition,
  type DiskLayout,
  type Partition,
  type PartitionKind,
  type LabelType,
  type LayoutRegion,
  type GptInfo,
} from './layout.js';
