#!/usr/bin/env node
// `npm test`: type-checks, then runs every tests/**/*.test.ts on Node 20 (the
// machine's, through tsx), Node 24 (from npm, native type stripping), Bun and
// Deno, and ends with one line "tests: N passed, N failed".
//
//   node tests/run.js                      everything
//   node tests/run.js --runtime=bun        one runtime (node20, node24, bun, deno)
//   node tests/run.js tests/nsqd/x.test.ts only these files (or the tests in these folders)
import { spawn } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
// Under npm, PATH starts with node_modules/.bin, whose `node` is Node 24: npm
// tells us which Node runs it, which is the machine's own.
const systemNode = process.env.npm_node_execpath || process.execPath;
const node24 = join(root, 'node_modules', 'node24', 'bin', 'node');

const args = process.argv.slice(2);
const only = args.find((a) => a.startsWith('--runtime='))?.slice('--runtime='.length).split(',');
const skipTypecheck = args.includes('--no-typecheck');
const fileArgs = args.filter((a) => !a.startsWith('--'));

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

// A folder argument stands for the tests under it (node --test takes files only).
const files = fileArgs.length > 0
  ? fileArgs.flatMap((a) => (statSync(a).isDirectory() ? findTests(join(root, a)) : [a]))
  : findTests(join(root, 'tests'));

const runtimes = [
  { name: 'node20', cmd: systemNode, args: ['--import', 'tsx', '--test', '--test-reporter=spec', ...files] },
  { name: 'node24', cmd: node24, args: ['--test', '--test-reporter=spec', ...files] },
  { name: 'bun', cmd: bin('bun'), args: ['test', '--timeout=60000', ...files.map((f) => `./${f}`)] },
  { name: 'deno', cmd: bin('deno'), args: ['test', '-A', '--no-check', ...files] },
].filter((r) => !only || only.includes(r.name));

function run(cmd, cmdArgs, env = {}) {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(cmd, cmdArgs, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (stream, sink) => stream.on('data', (d) => { output += d; sink.write(d); });
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
    child.on('error', (err) => resolve({ code: 1, output: String(err) }));
  });
}

// Counts from each runner's own summary.
function counts(name, output) {
  // eslint-disable-next-line no-control-regex
  const text = output.replace(/\x1b\[[0-9;]*m/g, '');
  const num = (re) => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  if (name.startsWith('node')) return { passed: num(/^ℹ pass (\d+)$/gm), failed: num(/^ℹ fail (\d+)$/gm) };
  if (name === 'bun') return { passed: num(/^\s*(\d+) pass$/gm), failed: num(/^\s*(\d+) fail$/gm) };
  return { passed: num(/(\d+) passed/g), failed: num(/(\d+) failed/g) };
}

let passed = 0;
let failed = 0;
const summary = [];

if (!skipTypecheck) {
  // tsc for the whole tree; `deno publish --dry-run` type-checks every export of deno.json as Deno sees it.
  console.log('== type check (tsc, deno publish --dry-run)');
  const tsc = await run(bin('tsc'), ['-p', 'tsconfig.json']);
  const deno = await run(bin('deno'), ['publish', '--dry-run', '--allow-dirty', '--quiet']);
  const ok = tsc.code === 0 && deno.code === 0;
  ok ? passed++ : failed++;
  summary.push(`typecheck: ${ok ? 'ok' : 'FAILED'}`);
}

for (const r of runtimes) {
  if (!existsSync(r.cmd) && r.cmd.includes('/')) {
    console.log(`== ${r.name}: ${r.cmd} is missing (run npm install)`);
    failed++;
    summary.push(`${r.name}: missing`);
    continue;
  }
  console.log(`\n== ${r.name}: ${files.length} test files`);
  const { code, output } = await run(r.cmd, r.args, { NO_COLOR: '1' });
  const c = counts(r.name, output);
  if (code !== 0 && c.failed === 0) c.failed = 1; // a crash outside any test still fails the run
  passed += c.passed;
  failed += c.failed;
  summary.push(`${r.name}: ${c.passed} passed, ${c.failed} failed${code !== 0 ? ` (exit ${code})` : ''}`);
}

console.log('\n== summary');
for (const s of summary) console.log(`  ${s}`);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
