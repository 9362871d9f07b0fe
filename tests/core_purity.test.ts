// core/ is written against web standards only: no runtime reaches in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const core = fileURLToPath(new URL('../core', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const FORBIDDEN = [
  { what: 'a node: import', re: /from\s+['"]node:|import\(\s*['"]node:|(?<![.\w])require\(/ },
  { what: 'Deno', re: /\bDeno\./ },
  { what: 'Bun', re: /\bBun\./ },
  { what: 'process', re: /\bprocess\.|\bprocess\b\s*[;)]/ },
  { what: 'Buffer', re: /\bBuffer\b/ },
];

test('no file under core/ reaches for a runtime', () => {
  const files = sources(core);
  assert.ok(files.length > 10, 'core/ sources found');
  const hits: string[] = [];
  for (const file of files) {
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '');
      for (const f of FORBIDDEN) if (f.re.test(code)) hits.push(`${file}:${i + 1}: ${f.what}: ${line.trim()}`);
    });
  }
  assert.deepEqual(hits, []);
});
