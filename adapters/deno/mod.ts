// The Deno runtime for nsq-ts daemons and clients.
import type { Runtime } from '../../core/ports.ts';
import { deno } from './deno_types.ts';
import { denoNet } from './net.ts';

export { denoNet };

export const denoRuntime: Runtime = {
  name: 'deno',
  net: denoNet,
  hostname: () => deno.hostname(),
};
