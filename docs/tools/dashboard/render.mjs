// Renders docs/grafana-shortcred.json's panels from the samples load.mjs
// scraped, to a PNG, in headless Chromium (playwright-core, Debian's
// /usr/bin/chromium). Not Grafana: each panel's PromQL is evaluated here by a
// small evaluator of exactly the forms the dashboard uses —
//   sum|min|max [by (labels)] (expr), rate(selector[window]),
//   histogram_quantile(q, expr), selector{a="x",b!="y"}, expr > number —
// with $__rate_interval taken as RATE_WINDOW, and drawn as SVG line charts.
//
//   node render.mjs DASHBOARD.json SAMPLES.jsonl OUT.png
import fs from 'node:fs';
import { chromium } from 'playwright-core';

const RATE_WINDOW = '10s';
const [dashPath, samplesPath, outPath] = process.argv.slice(2);
const dash = JSON.parse(fs.readFileSync(dashPath, 'utf8'));
const scrapes = fs.readFileSync(samplesPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

// ---- samples: every scrape's series of both endpoints, parsed once ----
function parseKey(key) {
  const brace = key.indexOf('{');
  if (brace < 0) return { name: key, labels: {} };
  const labels = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (let m; (m = re.exec(key.slice(brace)));) labels[m[1]] = m[2].replace(/\\(.)/g, '$1');
  return { name: key.slice(0, brace), labels };
}
const points = scrapes.map((s) => ({
  t: s.t,
  series: [...Object.entries(s.broker).map(([k, v]) => ({ ...parseKey(k), instance: 'broker', v })),
           ...Object.entries(s.tokend).map(([k, v]) => ({ ...parseKey(k), instance: 'tokend', v }))],
}));
for (const p of points) for (const s of p.series) s.labels.instance = s.instance;

// ---- a tiny PromQL ----
function tokenize(src) {
  const toks = [];
  const re = /\s*(!=|[(){}\[\],=>]|"(?:[^"\\]|\\.)*"|[0-9.]+(?:[smh])?|[A-Za-z_:][A-Za-z0-9_:]*)/gy;
  for (let m; (m = re.exec(src));) toks.push(m[1]);
  return toks;
}
function parse(src) {
  const toks = tokenize(src.replaceAll('$__rate_interval', RATE_WINDOW));
  let i = 0;
  const peek = () => toks[i];
  const eat = (want) => {
    const t = toks[i++];
    if (want !== undefined && t !== want) throw new Error(`expected ${want}, got ${t} in ${src}`);
    return t;
  };
  function labelList() {
    eat('(');
    const out = [];
    while (peek() !== ')') { out.push(eat()); if (peek() === ',') eat(','); }
    eat(')');
    return out;
  }
  function selector() {
    const node = { op: 'select', name: eat(), matchers: [] };
    if (peek() === '{') {
      eat('{');
      while (peek() !== '}') {
        const label = eat(), cmp = eat(), value = JSON.parse(eat());
        node.matchers.push({ label, cmp, value });
        if (peek() === ',') eat(',');
      }
      eat('}');
    }
    if (peek() === '[') { eat('['); node.window = parseFloat(eat()); eat(']'); }
    return node;
  }
  function unary() {
    const t = peek();
    if (t === 'sum' || t === 'min' || t === 'max') {
      eat();
      const by = peek() === 'by' ? (eat(), labelList()) : [];
      eat('(');
      const arg = expr();
      eat(')');
      return { op: t, by, arg };
    }
    if (t === 'rate') { eat(); eat('('); const arg = selector(); eat(')'); return { op: 'rate', arg }; }
    if (t === 'histogram_quantile') {
      eat(); eat('(');
      const q = parseFloat(eat());
      eat(',');
      const arg = expr();
      eat(')');
      return { op: 'quantile', q, arg };
    }
    return selector();
  }
  function expr() {
    const node = unary();
    if (peek() === '>') { eat(); return { op: 'gt', arg: node, bound: parseFloat(eat()) }; }
    return node;
  }
  const tree = expr();
  if (i !== toks.length) throw new Error(`unparsed tail in ${src}`);
  return tree;
}

const keyOf = (labels) => JSON.stringify(Object.entries(labels).sort());
function matches(s, node) {
  return s.name === node.name && node.matchers.every((m) =>
    m.cmp === '=' ? (s.labels[m.label] ?? '') === m.value : (s.labels[m.label] ?? '') !== m.value);
}
// Evaluates `node` at scrape index `at`: [{labels, value}].
function evaluate(node, at) {
  switch (node.op) {
    case 'select':
      return points[at].series.filter((s) => matches(s, node))
        .map((s) => ({ labels: { ...s.labels, __name__: s.name }, value: s.v }));
    case 'rate': {
      const sel = node.arg;
      const from = points[at].t - sel.window;
      const byKey = new Map();
      for (let j = at; j >= 0 && points[j].t >= from; j--) {
        for (const s of points[j].series) {
          if (!matches(s, sel)) continue;
          const k = keyOf(s.labels);
          if (!byKey.has(k)) byKey.set(k, { labels: s.labels, pts: [] });
          byKey.get(k).pts.unshift({ t: points[j].t, v: s.v });
        }
      }
      const out = [];
      for (const { labels, pts } of byKey.values()) {
        if (pts.length < 2) continue;
        let increase = 0;
        for (let j = 1; j < pts.length; j++) {
          const d = pts[j].v - pts[j - 1].v;
          increase += d >= 0 ? d : pts[j].v;  // a counter reset
        }
        out.push({ labels, value: increase / (pts[pts.length - 1].t - pts[0].t) });
      }
      return out;
    }
    case 'sum': case 'min': case 'max': {
      const groups = new Map();
      for (const s of evaluate(node.arg, at)) {
        const labels = Object.fromEntries(node.by.filter((l) => l in s.labels).map((l) => [l, s.labels[l]]));
        const k = keyOf(labels);
        const g = groups.get(k);
        if (g === undefined) groups.set(k, { labels, value: s.value });
        else g.value = node.op === 'sum' ? g.value + s.value
          : node.op === 'min' ? Math.min(g.value, s.value) : Math.max(g.value, s.value);
      }
      return [...groups.values()];
    }
    case 'gt':
      return evaluate(node.arg, at).filter((s) => s.value > node.bound);
    case 'quantile': {
      const groups = new Map();
      for (const s of evaluate(node.arg, at)) {
        const { le, ...rest } = s.labels;
        const k = keyOf(rest);
        if (!groups.has(k)) groups.set(k, { labels: rest, buckets: [] });
        groups.get(k).buckets.push({ le: le === '+Inf' ? Infinity : parseFloat(le), n: s.value });
      }
      const out = [];
      for (const { labels, buckets } of groups.values()) {
        buckets.sort((a, b) => a.le - b.le);
        const total = buckets[buckets.length - 1]?.n ?? 0;
        if (total <= 0) continue;
        const rank = node.q * total;
        let prevLe = 0, prevN = 0, value = NaN;
        for (const b of buckets) {
          if (b.n >= rank) {
            value = b.le === Infinity ? prevLe : prevLe + (b.le - prevLe) * (rank - prevN) / Math.max(b.n - prevN, 1e-12);
            break;
          }
          prevLe = b.le; prevN = b.n;
        }
        out.push({ labels, value });
      }
      return out;
    }
  }
  throw new Error(`unknown node ${node.op}`);
}

// ---- panels → series over time ----
const legend = (fmt, labels) => fmt.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, l) => labels[l] ?? '');
function panelSeries(panel) {
  const lines = new Map();
  for (const target of panel.targets) {
    const tree = parse(target.expr);
    for (let at = 0; at < points.length; at++) {
      for (const s of evaluate(tree, at)) {
        const name = legend(target.legendFormat, s.labels);
        if (!lines.has(name)) lines.set(name, new Array(points.length).fill(NaN));
        lines.get(name)[at] = s.value;
      }
    }
  }
  return [...lines.entries()].map(([name, values]) => ({ name, values }));
}

// ---- drawing ----
const palette = ['#73BF69', '#F2CC0C', '#8AB8FF', '#FF780A', '#F2495C', '#5794F2', '#B877D9',
                 '#FADE2A', '#C0D8FF', '#FF9830', '#96D98D', '#CA95E5'];
function fmt(v, unit) {
  if (!Number.isFinite(v)) return '';
  if (unit === 's') {
    if (v === 0) return '0';
    return v >= 1 ? `${v.toFixed(1)} s` : v >= 1e-3 ? `${+(v * 1e3).toFixed(1)} ms` : `${+(v * 1e6).toFixed(0)} µs`;
  }
  const n = Math.abs(v) >= 1000 ? `${+(v / 1000).toFixed(1)}K` : `${+v.toFixed(Math.abs(v) < 10 ? 2 : 0)}`;
  return unit === 'ops' ? `${n}/s` : unit === 'reqps' ? `${n} req/s` : n;
}
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
const esc = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
const times = points.map((p) => p.t);
const startMs = scrapes[0].at - scrapes[0].t * 1000;
const clock = (t) => new Date(startMs + t * 1000).toISOString().slice(11, 19);

function chart(panel, w, h) {
  const unit = panel.fieldConfig.defaults.unit;
  const stacked = panel.fieldConfig.defaults.custom.stacking.mode === 'normal';
  const series = panelSeries(panel);
  if (stacked) {
    const base = new Array(points.length).fill(0);
    for (const s of series) {
      s.values = s.values.map((v, i) => (Number.isFinite(v) ? (base[i] += v) : NaN));
    }
  }
  const legendRows = Math.ceil(series.length / 3);
  const L = 62, R = 10, T = 8, B = 22 + legendRows * 16;
  const pw = w - L - R, ph = h - T - B;
  const ymax = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite))));
  const tmin = times[0], tmax = times[times.length - 1];
  const x = (t) => L + (pw * (t - tmin)) / Math.max(tmax - tmin, 1);
  const y = (v) => T + ph - (ph * v) / ymax;
  let svg = `<svg width="${w}" height="${h}" xmlns="http://www.w3.org/2000/svg">`;
  for (let k = 0; k <= 4; k++) {
    const v = (ymax * k) / 4;
    svg += `<line x1="${L}" x2="${L + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#2c3235"/>`;
    svg += `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${esc(fmt(v, unit))}</text>`;
  }
  for (let k = 0; k <= 5; k++) {
    const t = tmin + ((tmax - tmin) * k) / 5;
    const anchor = k === 0 ? 'start' : k === 5 ? 'end' : 'middle';
    svg += `<text x="${x(t)}" y="${T + ph + 15}" text-anchor="${anchor}">${clock(t)}</text>`;
  }
  series.forEach((s, n) => {
    const color = palette[n % palette.length];
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) { pen = false; return; }
      d += `${pen ? 'L' : 'M'}${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    svg += `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"/>`;
    const lx = L + (n % 3) * (pw / 3), ly = T + ph + 32 + Math.floor(n / 3) * 16;
    svg += `<rect x="${lx}" y="${ly - 8}" width="12" height="4" fill="${color}"/>`;
    svg += `<text x="${lx + 16}" y="${ly - 3}">${esc(s.name.length > 34 ? s.name.slice(0, 33) + '…' : s.name)}</text>`;
  });
  if (series.length === 0) svg += `<text x="${L + pw / 2}" y="${T + ph / 2}" text-anchor="middle">No data</text>`;
  return svg + '</svg>';
}

const COL = 1800 / 24, ROW = 34;
let html = `<html><head><style>
  body { margin: 0; background: #111217; color: #ccccdc; font: 12px Inter, Helvetica, Arial, sans-serif; }
  .bar { height: 40px; display: flex; align-items: center; padding: 0 12px; font-size: 16px; }
  .bar small { margin-left: auto; font-size: 12px; color: #8e8e9e; }
  .grid { position: relative; margin: 0 8px; }
  .panel { position: absolute; background: #181b1f; border: 1px solid #2c3235; border-radius: 2px; box-sizing: border-box; }
  .panel h3 { margin: 6px 8px 0; font-size: 13px; font-weight: 500; color: #d8d9da; }
  .row { position: absolute; font-size: 14px; font-weight: 500; color: #d8d9da; padding-top: 8px; }
  svg text { fill: #9fa7b3; font-size: 11px; }
</style></head><body>
<div class="bar">shortcred &nbsp;<span style="color:#8e8e9e">(docs/grafana-shortcred.json)</span>
<small>panels of the dashboard JSON, drawn by docs/tools/dashboard/render.mjs from a real ${Math.round(times[times.length - 1])} s run
(broker + tokend + load, both /metrics scraped every second); not a Grafana screenshot</small></div><div class="grid">`;
let bottom = 0;
for (const p of dash.panels) {
  const g = p.gridPos;
  const left = g.x * COL, top = g.y * ROW, w = g.w * COL - 6, h = g.h * ROW - 6;
  bottom = Math.max(bottom, top + h);
  if (p.type === 'row') {
    html += `<div class="row" style="left:${left}px;top:${top}px">${esc(p.title)}</div>`;
    continue;
  }
  html += `<div class="panel" style="left:${left}px;top:${top}px;width:${w}px;height:${h}px">` +
          `<h3>${esc(p.title)}</h3>${chart(p, w - 2, h - 28)}</div>`;
}
html += `</div><div style="height:${bottom + 16}px"></div></body></html>`;

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' });
const page = await browser.newPage({ viewport: { width: 1816, height: bottom + 60 } });
await page.setContent(html);
await page.screenshot({ path: outPath, fullPage: true });
await browser.close();
console.log(`wrote ${outPath}`);
