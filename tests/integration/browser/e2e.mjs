// The browser example (examples/browser) end to end in headless Chromium,
// driven with playwright-core; run by test_browser.cpp, which starts redis,
// tokend, mosquitto with a WSS listener and the example's backend, and
// asserts on what this prints. Copied next to the example's node_modules in
// the build tree. One argument, a JSON object:
//   {"page_url", "tokend_url", "api_key", "broker_url", "ca", "server_cert",
//    "chromium", "out_dir"}
// Three pages, each in its own browser context (its own login cookie):
//   alice refreshes her 60 s credential (the page's own schedule), bob leaves
//   his to expire (?refresh=off), carol gets hers by the exchange mode (an id
//   token from the test's provider traded at /v2/tokens/exchange) and
//   refreshes it the same way.
// Prints one JSON object per line: {"event", "t" (Unix ms), ...}; exits 0
// when it got through (the assertions are the C++ test's), 1 on an error.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.argv[2]);
const emit = (event, fields = {}) =>
  process.stdout.write(`${JSON.stringify({ event, t: Date.now(), ...fields })}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Chromium trusts the fixture's server certificate by its public key only
// (the SPKI pin), for this browser process alone.
const spkiPin = crypto.createHash('sha256')
  .update(new crypto.X509Certificate(fs.readFileSync(cfg.server_cert)).publicKey
    .export({ type: 'spki', format: 'der' }))
  .digest('base64');

async function tokend(method, route, body) {
  const res = await fetch(new URL(route, cfg.tokend_url), {
    method,
    headers: { Authorization: `Bearer ${cfg.api_key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

const pageErrors = [];
async function openPage(browser, name, query) {
  const context = await browser.newContext({ viewport: { width: 900, height: 1100 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${name}: ${m.text()}`); });
  await page.goto(cfg.page_url + query);
  await page.fill('#user', name);
  await page.click('#login button');
  await page.waitForSelector('#state[data-state="connected"]', { timeout: 10000 });
  const token = await page.evaluate(() => window.example.token_id);
  const expiresAt = Date.parse(await page.evaluate(() => window.example.expires_at));
  emit('connected', { user: name, token, expires_at: expiresAt });
  return { page, expiresAt };
}

const shownSeconds = async (page) => Number.parseInt(await page.textContent('#expiry'), 10);
const event = (page, kind) =>
  page.evaluate((k) => window.example.events.find((e) => e.kind === k) ?? null, kind);
const waitEvent = (page, kind, timeout) =>
  page.waitForFunction((k) => window.example.events.some((e) => e.kind === k), kind,
    { timeout, polling: 10 });

// Sequence numbers "<prefix> <n>" among the page's messages on `topic`.
async function sequence(page, topic, prefix) {
  const payloads = await page.evaluate((t) =>
    window.example.messages.filter((m) => m.topic === t).map((m) => m.payload), topic);
  return payloads.filter((p) => p.startsWith(`${prefix} `)).map((p) => Number(p.slice(prefix.length + 1)));
}
function report(stream, sent, got, gap) {
  const seen = new Set(got);
  const missing = [];
  for (let n = 1; n <= sent; n++) if (!seen.has(n)) missing.push(n);
  emit('sequence', {
    stream, sent, received: got.length, distinct: seen.size, missing: missing.slice(0, 20),
    missing_count: missing.length, published_during_refresh: gap,
  });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: cfg.chromium,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run',
      `--ignore-certificate-errors-spki-list=${spkiPin}`],
  });
  emit('browser', { version: browser.version(), spki_pin: spkiPin });
  try {
    const alice = await openPage(browser, 'alice', '');
    const bob = await openPage(browser, 'bob', '?refresh=off');
    const carol = await openPage(browser, 'carol', '?mode=exchange');
    const a = alice.page;
    const b = bob.page;
    const c = carol.page;

    const first = await shownSeconds(a);
    await sleep(1100);
    emit('countdown', { first, second: await shownSeconds(a) });

    // Round trip: through the send form, into the shared room; both see it.
    const t0 = Date.now();
    await a.selectOption('#target', 'room');
    await a.fill('#text', 'hello from alice');
    await a.click('#send button');
    for (const page of [b, c, a]) {
      await page.waitForSelector('#messages li:has-text("hello from alice")', { timeout: 5000 });
    }
    emit('roundtrip', { ms: Date.now() - t0 });

    await a.waitForSelector('#probe[data-code]', { timeout: 5000 });
    emit('probe', { code: Number(await a.getAttribute('#probe', 'data-code')), text: await a.textContent('#probe') });

    // Across alice's refresh: a feeder of the same org publishes "room <n>"
    // into the room every 25 ms and alice's page publishes "mine <n>" to her
    // own topic every 100 ms (QoS 1 both), until 2 s after the refresh.
    const feederCred = await tokend('POST', '/v2/tokens', { user_id: 'feeder' });
    if (feederCred.status !== 201) throw new Error(`feeder credential: ${feederCred.status}`);
    const feeder = mqtt.connect(cfg.broker_url, {
      protocolVersion: 5, clientId: 'e2e-feeder', username: feederCred.body.username,
      password: feederCred.body.password, reconnectPeriod: 0,
      ca: fs.readFileSync(cfg.ca), rejectUnauthorized: true,
    });
    await new Promise((resolve, reject) => { feeder.once('connect', resolve); feeder.once('error', reject); });
    const roomTopic = await a.evaluate(() => window.example.topics.room);
    const ownTopic = await a.evaluate(() => window.example.topics.me);
    let fed = 0;
    const feedTimes = [];
    const feedAcks = [];
    const feedTimer = setInterval(() => {
      const n = ++fed;
      feedTimes.push(Date.now());
      feedAcks.push(new Promise((resolve) => feeder.publish(roomTopic, `room ${n}`, { qos: 1 }, resolve)));
    }, 25);
    await a.evaluate(() => {
      window.e2e = { n: 0, acks: [], times: [] };
      window.e2e.timer = setInterval(() => {
        const n = ++window.e2e.n;
        window.e2e.times.push(Date.now());
        window.e2e.acks.push(window.example.send('me', `mine ${n}`));
      }, 100);
    });

    const refreshTimeout = alice.expiresAt - Date.now() + 2000;
    await waitEvent(a, 'refreshed', refreshTimeout);
    const started = await event(a, 'refresh');
    const refreshed = await event(a, 'refreshed');
    emit('refreshed', {
      old_token: started.old_token, token: refreshed.token, started: started.t,
      switched: refreshed.t, before_expiry_ms: alice.expiresAt - refreshed.t,
    });
    await sleep(2000);
    clearInterval(feedTimer);
    const feedCodes = await Promise.all(feedAcks);
    const own = await a.evaluate(async () => {
      clearInterval(window.e2e.timer);
      const acks = await Promise.all(window.e2e.acks);
      return { sent: window.e2e.n, times: window.e2e.times, failed: acks.filter((r) => r.code !== 0) };
    });
    emit('published', {
      room: fed, room_failed: feedCodes.filter((e) => e).length, own: own.sent, own_failed: own.failed,
    });
    const inGap = (times) => times.filter((t) => t >= started.t && t <= refreshed.t).length;
    const lastRoom = `room ${fed}`;
    const lastOwn = `mine ${own.sent}`;
    await a.waitForFunction(([r, o]) => window.example.messages.some((m) => m.payload === r) &&
      window.example.messages.some((m) => m.payload === o), [lastRoom, lastOwn], { timeout: 5000, polling: 20 })
      .catch(() => {});
    report('room', fed, await sequence(a, roomTopic, 'room'), inGap(feedTimes));
    report('own', own.sent, await sequence(a, ownTopic, 'mine'), inGap(own.times));
    feeder.end();

    // Revocation of alice's current credential: the page shows it.
    const token = await a.evaluate(() => window.example.token_id);
    const revokedAt = Date.now();
    const del = await tokend('DELETE', `/v2/tokens/${token}`);
    await a.waitForSelector('#reason:not([data-code=""])', { timeout: 5000 });
    const kicked = await event(a, 'broker-disconnect');
    emit('revoked', {
      token, status: del.status, ms: kicked.t - revokedAt, code: kicked.code,
      text: await a.textContent('#reason'), state: await a.getAttribute('#state', 'data-state'),
    });

    // Carol's exchanged credential, renewed by a new id token and exchange.
    await waitEvent(c, 'refreshed', carol.expiresAt - Date.now() + 2000);
    const carolRefreshed = await event(c, 'refreshed');
    emit('exchange', {
      mode: await c.textContent('#mode'), who: await c.textContent('#who'),
      old_token: carolRefreshed.old_token, token: carolRefreshed.token,
      before_expiry_ms: carol.expiresAt - carolRefreshed.t,
      state: await c.getAttribute('#state', 'data-state'),
    });

    // Bob's credential runs out.
    await b.waitForSelector('#reason:not([data-code=""])', { timeout: bob.expiresAt - Date.now() + 5000 });
    const expired = await event(b, 'broker-disconnect');
    emit('expired', {
      code: expired.code, late_ms: expired.t - bob.expiresAt, text: await b.textContent('#reason'),
      state: await b.getAttribute('#state', 'data-state'), shown: await b.textContent('#expiry'),
    });

    for (const [name, page] of [['alice', a], ['bob', b], ['carol', c]]) {
      const file = path.join(cfg.out_dir, `browser-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      emit('screenshot', { path: file });
    }
    emit('page_errors', { errors: pageErrors });
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), (e) => {
  emit('error', { message: String(e?.stack ?? e), page_errors: pageErrors });
  process.exit(1);
});
