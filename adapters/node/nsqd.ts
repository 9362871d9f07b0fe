// nsqd on Node: `node adapters/node/nsqd.ts --tcp-address=...` (or bin/nsqd).
import './heap.ts'; // first: V8 flags before anything allocates
import { nsqdMain } from '../../core/nsqd/main.ts';
import { nodeRuntime } from './mod.ts';
import { nodeProcess } from './process.ts';

await nsqdMain(nodeRuntime, nodeProcess);
