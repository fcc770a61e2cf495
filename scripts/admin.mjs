#!/usr/bin/env node
// Send one allhands admin request through Janus's Admin API (message_plugin) and print the reply.
//
// Usage: node scripts/admin.mjs [--url http://127.0.0.1:7088/admin] [--secret S] '<request JSON>'
//        (or AH_ADMIN_URL / AH_ADMIN_SECRET in the environment)
//   --wait SECONDS   retry until the Admin API answers (for scripts that just started Janus)
//   --quiet          print nothing; exit status only
// Prints the plugin's response as JSON. Exit status: 0 success, 1 plugin error (error_code), 2 Janus
// error or no answer.
// SPDX-License-Identifier: GPL-3.0-or-later
import http from 'node:http';

const args = process.argv.slice(2);
let url = process.env.AH_ADMIN_URL || 'http://127.0.0.1:7088/admin';
let secret = process.env.AH_ADMIN_SECRET || '';
let wait = 0;
let quiet = false;
let body = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--url') url = args[++i];
  else if (a === '--secret') secret = args[++i];
  else if (a === '--wait') wait = Number(args[++i]);
  else if (a === '--quiet') quiet = true;
  else if (a === '-h' || a === '--help') { console.log('usage: node scripts/admin.mjs [--url URL] [--secret S] [--wait SEC] [--quiet] \'{"request":"status"}\''); process.exit(0); }
  else body = a;
}

function post(payload) {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(payload));
    const req = http.request(url, {
      method: 'POST', agent: false, timeout: 5000,
      headers: { 'content-type': 'application/json', 'content-length': data.length },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch (e) { reject(e); }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

async function main() {
  let request;
  try { request = body ? JSON.parse(body) : null; } catch (e) { console.error(`admin.mjs: the request is not JSON: ${e.message}`); process.exit(2); }
  const payload = request
    ? { janus: 'message_plugin', plugin: 'janus.plugin.allhands', request }
    : { janus: 'info' };
  const deadline = Date.now() + wait * 1000;
  for (;;) {
    try {
      const reply = await post({ ...payload, admin_secret: secret, transaction: Math.random().toString(36).slice(2) });
      if (reply.janus === 'error') {
        if (!quiet) console.error(`admin.mjs: Janus error: ${JSON.stringify(reply.error)}`);
        process.exit(2);
      }
      const out = request ? reply.response : reply;
      if (!quiet) console.log(JSON.stringify(out, null, 2));
      process.exit(out && typeof out.error_code === 'number' ? 1 : 0);
    } catch (e) {
      if (Date.now() < deadline) { await new Promise((r) => setTimeout(r, 200)); continue; }
      if (!quiet) console.error(`admin.mjs: no answer from ${url}: ${e.message}`);
      process.exit(2);
    }
  }
}
main();
