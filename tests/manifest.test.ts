// package.json and deno.json point at files that exist, and agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const deno = JSON.parse(readFileSync(join(root, 'deno.json'), 'utf8'));

test('package.json bin entries are executable files', () => {
  for (const [name, file] of Object.entries(pkg.bin as Record<string, string>)) {
    accessSync(join(root, file), constants.X_OK);
    assert.match(readFileSync(join(root, file), 'utf8'), /^#!\/usr\/bin\/env node\n/, `${name} has a node shebang`);
  }
});

test('package.json and deno.json export the same entry points, and they exist', () => {
  for (const key of ['.', './node', './bun', './deno']) {
    assert.equal(pkg.exports[key], deno.exports[key], key);
  }
  for (const file of [...Object.values(pkg.exports), ...Object.values(deno.exports)] as string[]) {
    assert.ok(existsSync(join(root, file)), `${file} exists`);
  }
});

test('deno.json has a name, a version and the start, test and bench tasks', () => {
  assert.match(deno.name, /^@[a-z0-9-]+\/[a-z0-9-]+$/);
  assert.equal(deno.version, pkg.version);
  for (const task of ['start', 'test', 'bench']) assert.ok(deno.tasks[task], task);
});
