#!/usr/bin/env node
// `npm start`, `bun run start`, `deno task start`: the whole system on its
// default ports with data under ./data, on the runtime that was asked for
// (`--runtime=node|bun|deno`, else the one running this script, else the
// package manager's: `bun run` runs scripts through Node 24 from node_modules).
// Ctrl-C stops every daemon cleanly.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = process.argv.find((a) => a.startsWith('--runtime='))?.split('=')[1];
const running = globalThis.Deno ? 'deno' : globalThis.Bun ? 'bun' : 'node';
const fromAgent = (process.env.npm_config_user_agent ?? '').startsWith('bun/') ? 'bun' : undefined;
const runtime = arg ?? (running !== 'node' ? running : fromAgent ?? 'node');

// Bun and Deno from node_modules: under Deno, spawning process.execPath would
// be taken for a Node command line and rewritten.
const exe = join(root, 'node_modules', '.bin', runtime);
const entry = (name) => {
  if (runtime === 'deno') return [exe, ['run', '-A', join(root, 'adapters/deno', `${name}.ts`)]];
  if (runtime === 'bun') return [exe, [join(root, 'adapters/bun', `${name}.ts`)]];
  return [process.execPath, [join(root, 'bin', name)]];
};

const data = join(process.cwd(), 'data');
mkdirSync(data, { recursive: true });

// nsqd registers with nsqlookupd (and reconnects by itself if it starts first).
const daemons = [
  { name: 'nsqlookupd', args: [] },
  { name: 'nsqd', args: [`--data-path=${data}`, '--lookupd-tcp-address=127.0.0.1:4160'] },
];

const children = daemons.map(({ name, args }) => {
  const [cmd, pre] = entry(name);
  const child = spawn(cmd, [...pre, ...args], { stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping the others`);
      stop(code || 1);
    }
  });
  return child;
});
console.error(`started ${daemons.map((d) => d.name).join(', ')} on ${runtime}; data in ${data}; Ctrl-C stops them`);

let stopping = false;
function stop(code = 0) {
  stopping = true;
  let left = children.filter((c) => c.exitCode === null).length;
  if (left === 0) process.exit(code);
  for (const c of children) {
    if (c.exitCode !== null) continue;
    c.once('exit', () => --left === 0 && process.exit(code));
    c.kill('SIGTERM');
  }
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
