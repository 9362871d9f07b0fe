// The Bun runtime for nsq-ts daemons and clients.
import * as os from 'node:os';
import type { Runtime } from '../../core/ports.ts';
import { bunNet } from './net.ts';

export { bunNet };

export const bunRuntime: Runtime = {
  name: 'bun',
  net: bunNet,
  hostname: () => os.hostname(),
};
