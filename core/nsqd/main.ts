// The nsqd command line (runDaemon in core/cli.ts), shared by every runtime's entry point.
import { runDaemon, type ProcessPort } from '../cli.ts';
import type { Runtime } from '../ports.ts';
import { defaultNodeId } from './node_id.ts';
import { NSQD } from './nsqd.ts';
import { buildOptions, NSQD_FLAGS, VERSION } from './options.ts';

export function nsqdMain(runtime: Runtime, proc: ProcessPort): Promise<NSQD | undefined> {
  return runDaemon(
    {
      name: 'nsqd',
      version: VERSION,
      flags: NSQD_FLAGS,
      buildOptions: (values, describe) => buildOptions(values, defaultNodeId(runtime.hostname()), {}, describe),
      create: (opts, logger) => new NSQD(opts, { runtime, logger }),
    },
    runtime.name,
    proc,
  );
}
