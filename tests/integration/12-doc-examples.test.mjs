// The documentation's examples, run as written against a fresh Janus, so the docs cannot drift from
// the plugin: docs/api.md's "Walkthrough" (request/reply pairs: each reply must contain what the doc
// shows) and docs/operations.md's `admin '...'` commands (each must succeed).
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startJanus, safeJson } from './lib/allhands.mjs';
import { REPO_ROOT } from './lib/util.mjs';

let janus;

before(async () => {
  janus = await startJanus('doc-examples', { capacity: 20 });
});

after(async () => {
  if (janus) await janus.dispose();
});

function section(markdown, title) {
  const start = markdown.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `section "${title}" exists`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

function jsonBlocks(text) {
  return [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]));
}

// Every key the doc shows is in `actual` with the same value; arrays match element by element and
// have the same length.
function contains(actual, expected, where = '$') {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where} is an array`);
    assert.equal(actual.length, expected.length, `${where} has ${expected.length} elements`);
    expected.forEach((e, i) => contains(actual[i], e, `${where}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${where} is an object`);
    for (const [k, v] of Object.entries(expected)) contains(actual[k], v, `${where}.${k}`);
  } else {
    assert.deepEqual(actual, expected, `${where}`);
  }
}

test('docs/api.md walkthrough: every request gets the reply the doc shows', async () => {
  const md = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'api.md'), 'utf8');
  const blocks = jsonBlocks(section(md, 'Walkthrough'));
  assert.ok(blocks.length >= 10 && blocks.length % 2 === 0, `request/reply pairs (${blocks.length} blocks)`);
  for (let i = 0; i < blocks.length; i += 2) {
    const [request, expected] = [blocks[i], blocks[i + 1]];
    assert.ok(request.request, `block ${i} is a request`);
    const reply = await janus.admin(request);
    try {
      contains(reply, expected);
    } catch (e) {
      throw new Error(`${e.message} differs from docs/api.md\n  request ${safeJson(request)}\n  reply   ${safeJson(reply)}\n  doc     ${safeJson(expected)}`);
    }
  }
});

test('docs/operations.md admin commands succeed as written', async () => {
  const md = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
  const requests = [...md.matchAll(/^admin '(\{.*\})'$/gm)].map((m) => JSON.parse(m[1]));
  assert.ok(requests.length >= 4, `found ${requests.length} admin commands`);
  for (const request of requests) {
    const reply = await janus.admin(request);
    assert.equal(reply.allhands, 'success', `${safeJson(request)} -> ${safeJson(reply)}`);
  }
  // The tenant's own request shown there as JSON works through the Admin API too.
  const blocks = jsonBlocks(md).filter((b) => b.tenant_secret);
  assert.ok(blocks.length >= 1, 'a tenant request example');
  for (const request of blocks) {
    const reply = await janus.admin(request);
    assert.equal(reply.allhands, 'success', `${safeJson(request)} -> ${safeJson(reply)}`);
  }
});
