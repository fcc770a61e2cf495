// A strict parser of the Prometheus text exposition format 0.0.4, and a scraper, for the metrics
// test (32-metrics). It throws on anything the format does not allow: a line that does not parse,
// a family declared twice or without HELP and TYPE before its samples, a sample outside its family,
// a series twice, a counter not named *_total, histogram buckets that are not cumulative or do not
// end in le="+Inf" equal to _count, a bad escape in a label value.
// SPDX-License-Identifier: GPL-3.0-or-later
import http from 'node:http';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text, line) {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value "${text}" in: ${line}`);
  return Number(text);
}

// {a="x",b="y"} starting at text[i] === '{'; returns [labels, index after '}'].
function parseLabels(text, i, line) {
  const labels = {};
  i += 1;
  while (text[i] !== '}') {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`label without "=" in: ${line}`);
    const name = text.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`bad label name "${name}" in: ${line}`);
    if (name in labels) throw new Error(`label ${name} twice in: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`label value not quoted in: ${line}`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = text[j];
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
      if (c === '"') break;
      if (c === '\\') {
        const n = text[j + 1];
        if (n === '\\') value += '\\';
        else if (n === '"') value += '"';
        else if (n === 'n') value += '\n';
        else throw new Error(`bad escape \\${n} in: ${line}`);
        j += 2;
      } else {
        value += c;
        j += 1;
      }
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') throw new Error(`expected "," or "}" after a label in: ${line}`);
  }
  return [labels, i + 1];
}

const seriesKey = (name, labels) => `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;

export function parseExposition(text) {
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map(); // name -> {help, type, samples: [{name, labels, value}]}
  const series = new Map();
  let current = null;
  const lines = text.slice(0, -1).split('\n');
  for (const line of lines) {
    if (line === '') throw new Error('empty line in the exposition');
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([^ ]+) (.*)$/.exec(line);
      if (!m) throw new Error(`comment that is neither HELP nor TYPE: ${line}`);
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`bad family name: ${line}`);
      if (kind === 'HELP') {
        if (families.has(name)) throw new Error(`family ${name} declared twice`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`bad escape in HELP: ${line}`);
        families.set(name, { help: rest, type: null, samples: [] });
      } else {
        const f = families.get(name);
        if (!f || f.type !== null) throw new Error(`TYPE of ${name} without HELP first, or twice`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type: ${line}`);
        if (rest === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} does not end in _total`);
        f.type = rest;
        current = name;
      }
      continue;
    }
    let i = 0;
    while (i < line.length && line[i] !== '{' && line[i] !== ' ') i += 1;
    const name = line.slice(0, i);
    if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
    let labels = {};
    if (line[i] === '{') [labels, i] = parseLabels(line, i, line);
    if (line[i] !== ' ') throw new Error(`expected a space before the value in: ${line}`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2) throw new Error(`trailing text in: ${line}`);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) throw new Error(`bad timestamp in: ${line}`);
    const value = parseValue(parts[0], line);
    const f = current && families.get(current);
    const own = f && (name === current || (f.type === 'histogram' && [`${current}_bucket`, `${current}_sum`, `${current}_count`].includes(name)));
    if (!own) throw new Error(`sample ${name} outside its family (current: ${current})`);
    const key = seriesKey(name, labels);
    if (series.has(key)) throw new Error(`series ${key} twice`);
    const s = { name, labels, value };
    series.set(key, s);
    f.samples.push(s);
  }
  for (const [name, f] of families) {
    if (f.type === null) throw new Error(`family ${name} has HELP but no TYPE`);
    if (f.type !== 'histogram') continue;
    const buckets = f.samples.filter((s) => s.name === `${name}_bucket`);
    let lastLe = -Infinity;
    let last = 0;
    for (const b of buckets) {
      const le = parseValue(b.labels.le, name);
      if (!(le > lastLe) || b.value < last) throw new Error(`histogram ${name}: buckets not cumulative in le order`);
      lastLe = le;
      last = b.value;
    }
    const count = series.get(seriesKey(`${name}_count`, {}));
    if (lastLe !== Infinity || !count || count.value !== last || !series.has(seriesKey(`${name}_sum`, {}))) {
      throw new Error(`histogram ${name}: no le="+Inf" bucket equal to _count, or no _sum`);
    }
  }
  return {
    families,
    // The value of one series; undefined when it is not there.
    get(name, labels = {}) { return series.get(seriesKey(name, labels))?.value; },
    type(name) { return families.get(name)?.type; },
  };
}

// GET url; resolves {status, headers, body} (never rejects on an HTTP status).
export function httpGet(url, { headers = {}, method = 'GET', timeout = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, timeout }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in ${timeout} ms`)));
    req.on('error', reject);
    req.end();
  });
}
