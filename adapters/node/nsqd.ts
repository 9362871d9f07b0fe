// nsqd on Node: `node adapters/node/nsqd.ts --tcp-address=...` (or bin/nsqd).
import { nsqdMain } from '../../core/nsqd/main.ts';
import { nodeRuntime } from './mod.ts';
import { nodeProcess } from './process.ts';

await nsqdMain(nodeRuntime, nodeProcess);
