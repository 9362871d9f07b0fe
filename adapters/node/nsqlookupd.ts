// nsqlookupd on Node: `node adapters/node/nsqlookupd.ts --tcp-address=...` (or bin/nsqlookupd).
import { nsqlookupdMain } from '../../core/lookupd/main.ts';
import { nodeRuntime } from './mod.ts';
import { nodeProcess } from './process.ts';

await nsqlookupdMain(nodeRuntime, nodeProcess);
