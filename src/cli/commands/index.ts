// Every CLI command, in the order `snapclone --help` lists them. Each module adds itself to the
// program and does its work through the layers below; only src/cli prints or exits.

import type { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerBzip2 } from './bzip2.js';
import { registerKeygen } from './keygen.js';
import { registerLayout } from './layout.js';
import { registerCleanup } from './cleanup.js';
import { registerDemo } from './demo.js';
import { registerInfo } from './info.js';
import { registerRestoreImage } from './restore-image.js';
import { registerSaveImage } from './save-image.js';
import { registerBackup } from './backup.js';
import { registerImport } from './import.js';
import { registerList } from './list.js';
import { registerRestore } from './restore.js';
import { registerVerify } from './verify.js';

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: RegisterCommand[] = [
  registerDemo,
  registerSaveImage,
  registerRestoreImage,
  registerInfo,
  registerLayout,
  registerBzip2,
  registerCleanup,
  registerKeygen,
  registerAgent,
  registerBackup,
  registerRestore,
  registerVerify,
  registerList,
  registerImport,
];
