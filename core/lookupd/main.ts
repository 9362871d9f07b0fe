// The nsqlookupd command line (runDaemon in core/cli.ts), shared by every runtime's entry point.
import { runDaemon, type ProcessPort } from '../cli.ts';
import type { Runtime } from '../ports.ts';
import { NSQLookupd } from './lookupd.ts';
import { buildLookupdOptions, LOOKUPD_FLAGS, VERSION } from './options.ts';

export function nsqlookupdMain(runtime: Runtime, proc: ProcessPort): Promise<NSQLookupd | undefined> {
  return runDaemon(
    {
      name: 'nsqlookupd',
      version: VERSION,
      flags: LOOKUPD_FLAGS,
      buildOptions: (values, describe) => buildLookupdOptions(values, {}, describe),
      create: (opts, logger) => {
        logger.info(`nsqlookupd v${VERSION} (nsq-ts on ${runtime.name})`);
        return new NSQLookupd(opts, { runtime, logger });
      },
    },
    runtime.name,
    proc,
  );
}
