// The load of the dashboard run (run.sh): tenants minting credentials from
// shortcred-tokend and connecting to the broker with MQTT.js, some of them
// misbehaving (wrong secrets, unknown tokens, other orgs' topics, publishing
// over their org's rate), a revocation every few seconds and credentials
// that expire while connected; meanwhile both /metrics endpoints are scraped
// every second into a JSON-lines file for render.mjs.
//
//   node load.mjs CONFIG.json   (written by run.sh)
import fs from 'node:fs';
import mqtt from 'mqtt';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const t0 = Date.now();
const elapsed = () => (Date.now() - t0) / 1000;
const out = fs.createWriteStream(cfg.samples);
const live = new Map();  // token id → { org, client }

// Scrapes: the raw sample lines of each endpoint, keyed `name{labels}`.
function parse(text) {
  const samples = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples[line.slice(0, at)] = Number(line.slice(at + 1));
  }
  return samples;
}
async function scrape() {
  const t = elapsed();
  const get = async (url) => {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(900) });
      return r.ok ? parse(await r.text()) : {};
    } catch { return {}; }
  };
  const [broker, tokend] = await Promise.all([get(cfg.broker_metrics), get(cfg.tokend_metrics)]);
  out.write(JSON.stringify({ t, at: Date.now(), broker, tokend }) + '\n');
}

async function mint(org, user, ttl) {
  try {
    const r = await fetch(`${cfg.tokend}/v2/tokens`, {
      method: 'POST', signal: AbortSignal.timeout(2000),
      headers: { Authorization: `Bearer ${cfg.keys[org]}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ user_id: user, ttl_seconds: ttl }),
    });
    return r.status === 201 ? await r.json() : null;
  } catch { return null; }
}

async function revoke(org, token) {
  try {
    await fetch(`${cfg.tokend}/v2/tokens/${token}`, {
      method: 'DELETE', signal: AbortSignal.timeout(2000),
      headers: { Authorization: `Bearer ${cfg.keys[org]}` },
    });
  } catch { /* an outage: the next one */ }
}

function connect(id, username, password) {
  return new Promise((resolve) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${cfg.mqtt_port}`, {
      protocolVersion: 5, clientId: id, username, password, reconnectPeriod: 0,
      connectTimeout: 3000,
    });
    c.on('connect', () => resolve(c));
    c.on('error', () => { c.end(true); resolve(null); });
    c.on('close', () => resolve(null));
  });
}

let serial = 0;
// One well-behaved (or not) client of `org` for `stay_s` seconds.
async function session(org, behaviour, stay_s, ttl = 600, revocable = true) {
  const user = `u${serial % 40}`;
  const id = `${org}/${user}/c${serial++}`;
  const cred = await mint(org, user, ttl);
  if (cred === null) return;
  let password = cred.password;
  if (behaviour === 'bad_secret') password = password.slice(0, -1) + (password.endsWith('a') ? 'b' : 'a');
  if (behaviour === 'unknown_token') password = `tkn_${'0123456789abcdef'.split('').sort(() => Math.random() - 0.5).join('')}_${password.slice(-40)}`;
  const c = await connect(id, cred.username, password);
  if (c === null) return;
  live.set(cred.token_id, { org, client: c, revocable });
  c.on('close', () => live.delete(cred.token_id));
  c.subscribe(`${org}/users/${user}/#`);
  if (behaviour === 'snoop') c.subscribe(`${cfg.orgs[(cfg.orgs.indexOf(org) + 1) % cfg.orgs.length]}/shared/#`);
  const publishes = behaviour === 'chatty' ? 6 : 1;
  const timer = setInterval(() => {
    for (let i = 0; i < publishes; i++) c.publish(`${org}/users/${user}/t`, 'x', { qos: 0 });
    if (behaviour === 'snoop') c.publish(`${cfg.orgs[0]}/users/admin/t`, 'x', { qos: 0 });
  }, 1000);
  setTimeout(() => { clearInterval(timer); c.end(); }, stay_s * 1000);
}

// Per second: each org opens `weight` sessions; some misbehave.
// With plugin_opt_metrics_top_orgs 3 and five orgs misbehaving, each per-org
// panel shows three orgs and "other".
const behaviours = { acme: ['ok', 'ok', 'ok', 'snoop', 'ok', 'bad_secret'],
                     globex: ['chatty', 'ok', 'chatty', 'snoop', 'bad_secret'],
                     initech: ['bad_secret', 'ok', 'snoop', 'chatty'],
                     umbrella: ['unknown_token', 'snoop'], hooli: ['snoop', 'ok', 'unknown_token'] };
let second = 0;
const load = setInterval(() => {
  second += 1;
  for (const org of cfg.orgs) {
    for (const b of behaviours[org]) session(org, b, 5 + Math.random() * 20);
  }
  // Credentials of 60 s held for 90 s: expired while connected.
  if (second % 10 === 0) session('acme', 'ok', 90, 60, false);
  // A revocation of a live acme credential every 5 s.
  if (second % 5 === 0) {
    for (const [token, s] of live) {
      if (s.org === 'acme' && s.revocable) { revoke('acme', token); break; }
    }
  }
}, 1000);
const scraper = setInterval(scrape, 1000);
await scrape();

setTimeout(async () => {
  clearInterval(load);
  for (const { client } of live.values()) client.end(true);
  await new Promise((r) => setTimeout(r, 2000));
  clearInterval(scraper);
  await scrape();
  out.end();
  process.exit(0);
}, cfg.seconds * 1000);
