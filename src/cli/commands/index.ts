// Every CLI command, in the order `snapclone --help` lists them. Each module adds itself to the
// program and does its work through the layers below; only src/cli prints or exits.

import type { Command } from 'commander';
import { registerBzip2 } from './bzip2.js';
import { registerDemo } from './demo.js';
import { registerInfo } from './info.js';
import { registerRestoreImage } from './restore-image.js';
import { registerSaveImage } from './save-image.js';

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: RegisterCommand[] = [
  registerBzip2,
  registerSaveImage,
  registerRestoreImage,
  registerInfo,
  registerDemo,
];
