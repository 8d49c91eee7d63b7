// The page: logs its user in through the backend (server.mjs), connects a
// stock MQTT.js 5 over WSS with the short-lived credential it gets, reads the
// user's own topics and the org's shared room, shows that another org's room
// is refused, counts the credential's expiry down, replaces the credential
// before refresh_recommended_at, and says why the broker disconnected it.
//
// The refresh opens a second connection with the new credential, subscribes
// it to the same topics, and only then closes the old one ("make before
// break"): no moment without a subscribed connection, so no message is lost,
// QoS 0 included (one published during the overlap may arrive twice, as QoS 1
// allows anyway). MQTT.js 5 has no call to send an MQTT 5 AUTH packet
// (re-authentication) on a live connection, and a reconnect on a persistent
// session would lose what is published while the page is away: the broker
// does not queue messages for an offline shortcred session (see the README,
// "Browsers").
//
// Two ways to get the credential (?mode=…):
//   seed      the backend logs the user in and mints it with its API key
//             (POST /login, POST /refresh)
//   exchange  the page gets an id token from an identity provider (the
//             backend's IDP_URL; dev-idp.mjs here) and trades it itself at
//             POST /v2/tokens/exchange (no API key anywhere); a refresh is a
//             new id token traded again
// ?refresh=off leaves the credential to expire (to see what that looks like).
'use strict';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const autoRefresh = params.get('refresh') !== 'off';
const mode = params.get('mode') === 'exchange' ? 'exchange' : 'seed';

// MQTT 5 reason codes of CONNACK, SUBACK and DISCONNECT, in words.
const REASONS = {
  0x00: 'Success / normal disconnection', 0x04: 'Disconnect with will message',
  0x80: 'Unspecified error', 0x81: 'Malformed packet', 0x82: 'Protocol error',
  0x83: 'Implementation specific error', 0x86: 'Bad user name or password',
  0x87: 'Not authorized', 0x89: 'Server busy', 0x8b: 'Server shutting down',
  0x8c: 'Bad authentication method', 0x8d: 'Keep alive timeout', 0x8e: 'Session taken over',
  0x8f: 'Topic filter invalid', 0x90: 'Topic name invalid', 0x93: 'Receive maximum exceeded',
  0x95: 'Packet too large', 0x96: 'Message rate too high', 0x97: 'Quota exceeded',
  0x98: 'Administrative action', 0x99: 'Payload format invalid', 0x9c: 'Use another server',
  0x9d: 'Server moved', 0x9f: 'Connection rate exceeded', 0xa0: 'Maximum connect time',
  0xa2: 'Wildcard subscriptions not supported',
};
const hex = (c) => `0x${c.toString(16).padStart(2, '0').toUpperCase()}`;
const describe = (c) => `${hex(c)} ${REASONS[c] ?? 'unknown reason code'}`;
const clock = (ms) => new Date(ms).toLocaleTimeString();

let config;          // /config.json: broker_url, other_org; idp_url, org, ttl_seconds if set
let cred;            // the current credential (mint() or renew())
let org;
let user;
let loginName;       // what the user typed (exchange mode: the provider's login)
let client = null;
let refreshTimer = null;
const outbox = [];   // publishes asked for while connecting

// What happened, for people (the Log list) and for tests (window.example).
const example = { events: [], messages: [], send, topics: {} };
window.example = example;

function log(kind, fields = {}) {
  example.events.push({ kind, t: Date.now(), ...fields });
  const li = document.createElement('li');
  li.textContent = `${clock(Date.now())} ${kind} ${JSON.stringify(fields)}`;
  $('log').prepend(li);
}

function setState(state, text = state) {
  $('state').dataset.state = state;
  $('state').textContent = text;
}

async function post(path, body = {}) {
  try {
    const res = await fetch(path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    return { ok: res.ok, status: res.status, body: await res.json() };
  } catch (e) {
    return { ok: false, status: 0, body: { error: { message: String(e) } } };
  }
}

// --- the credential ---------------------------------------------------------

function useCredential(c) {
  cred = c;
  const at = c.username.lastIndexOf('@');
  user = c.username.slice(0, at);
  org = c.username.slice(at + 1);
  example.topics = { me: `${org}/users/${user}/notes`, room: `${org}/shared/room` };
  example.token_id = c.token_id;
  example.expires_at = c.expires_at;
  $('who').textContent = `${user} of ${org}`;
  $('token').textContent = c.token_id;
  scheduleRefresh();
}

// At refresh_recommended_at (90 % of the lifetime), less a random part of
// 5 % of it, so that many pages opened together do not refresh together.
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (!autoRefresh) {
    $('refresh').textContent = 'off: this credential will expire';
    return;
  }
  const recommended = Date.parse(cred.refresh_recommended_at);
  const at = recommended - Math.random() * 0.05 * cred.expires_in * 1000;
  refreshTimer = setTimeout(refresh, Math.max(0, at - Date.now()));
  $('refresh').textContent = `at ${clock(at)} (recommended by ${clock(recommended)})`;
}

// A credential for `name`, the mode's way. Resolves like post().
async function mint(name) {
  if (mode === 'seed') return post('/login', { user: name });
  if (!config.idp_url) return { ok: false, status: 0, body: { error: { message: 'the backend has no IDP_URL' } } };
  // The provider's login, in a real app its SDK (Supabase, Auth0, Firebase, Clerk).
  const idp = await post(new URL('/token', config.idp_url), { user: name });
  if (!idp.ok) return idp;
  return post('/v2/tokens/exchange', {
    org: config.org, id_token: idp.body.id_token,
    ...(config.ttl_seconds ? { ttl_seconds: config.ttl_seconds } : {}),
  });
}
const renew = () => (mode === 'seed' ? post('/refresh') : mint(loginName));

async function refresh() {
  log('refresh', { old_token: cred.token_id });
  const r = await renew();
  if (!r.ok) {
    log('refresh-failed', { status: r.status, message: r.body.error?.message });
    // Transient (network, 429, 5xx): try again while the old one still holds.
    if (r.status === 0 || r.status === 429 || r.status >= 500) refreshTimer = setTimeout(refresh, 2000);
    return;
  }
  if (!client?.connected) return;  // revoked or gone meanwhile: nothing to refresh
  const old = client;
  setState('refreshing', 'connecting with the new credential');
  const next = open(r.body);
  if (!(await ready(next))) {
    next.end(true);
    log('refresh-failed', { message: 'the new connection was refused or could not subscribe' });
    if (old === client && old.connected) {
      setState('connected');
      refreshTimer = setTimeout(refresh, 2000);
    }
    return;
  }
  useCredential(r.body);
  client = next;
  setState('connected');
  log('refreshed', { token: cred.token_id, old_token: old.tokenId });
  // A clean DISCONNECT (reason 0: no will) once the old connection's QoS 1
  // publishes in flight are acknowledged.
  old.end(false, { reasonCode: 0 });
}

setInterval(() => {
  if (!cred) return;
  const left = Date.parse(cred.expires_at) - Date.now();
  if (cred.revoked) $('expiry').textContent = 'revoked';
  else $('expiry').textContent = left > 0
    ? `${Math.ceil(left / 1000)} s (at ${clock(Date.parse(cred.expires_at))})`
    : 'expired';
}, 250);

// --- MQTT ---------------------------------------------------------------------

// The page's own topics: the user's, and the org's shared room.
const filters = () => [`${org}/users/${user}/#`, `${org}/shared/#`];

// A connection with credential `c`. Only the current one (`client`) speaks
// for the page's state; messages count from any.
function open(c) {
  const cl = mqtt.connect(config.broker_url, {
    protocolVersion: 5,
    clientId: `${org}/${user}/web-${Math.random().toString(36).slice(2, 10)}`,
    username: c.username,
    password: c.password,
    clean: true,
    reconnectPeriod: 0,  // a refused, revoked or expired credential stays down
    connectTimeout: 10000,
  });
  cl.tokenId = c.token_id;
  cl.on('message', onMessage);
  cl.on('disconnect', (packet) => { if (cl === client) onBrokerDisconnect(packet.reasonCode ?? 0); });
  cl.on('error', (err) => onError(cl, err));
  cl.on('close', () => { if (cl === client) onClose(); });
  return cl;
}

// Resolves true once `cl` is connected and subscribed to the page's topics,
// false if it could not be.
function ready(cl) {
  return new Promise((resolve) => {
    cl.once('connect', async () => {
      const codes = await Promise.all(filters().map((f) => subscribe(cl, f)));
      resolve(codes.every((code) => code < 0x80));
    });
    cl.once('close', () => resolve(false));
  });
}

async function connect() {
  client = open(cred);
  setState('connecting');
  if (!(await ready(client))) return;
  setState('connected');
  log('connected', { token: cred.token_id });
  probeOtherOrg();
  outbox.splice(0).forEach((go) => go());
}

// Resolves with the SUBACK's code: the granted QoS, or a failure >= 0x80.
function subscribe(cl, filter) {
  return new Promise((resolve) => {
    // MQTT.js reports a SUBACK failure as an error: the code is in the SUBACK.
    cl.subscribe(filter, { qos: 1 }, (err, granted, suback) => {
      const code = suback?.granted?.[0] ?? err?.code ?? granted?.[0]?.qos ?? 0x80;
      log('suback', { filter, code });
      resolve(code);
    });
  });
}

async function probeOtherOrg() {
  const filter = `${config.other_org}/shared/#`;
  const code = await subscribe(client, filter);
  $('probe').dataset.code = code;
  $('probe').textContent = code >= 0x80
    ? `subscribe ${filter}: refused, SUBACK ${describe(code)}`
    : `subscribe ${filter}: granted QoS ${code} (the broker should have refused it)`;
}

function onMessage(topic, payload) {
  const text = payload.toString();
  example.messages.push({ topic, payload: text, t: Date.now() });
  const li = document.createElement('li');
  li.textContent = `${clock(Date.now())} ${topic}: ${text}`;
  $('messages').prepend(li);
  while ($('messages').children.length > 100) $('messages').lastChild.remove();
}

// What a DISCONNECT from the broker means for a shortcred credential. At
// expiry and at revocation the plugin kicks the session; Mosquitto's reason
// code for that depends on the broker, so the clock tells the two apart.
function meaning(code) {
  const expired = Date.now() >= Date.parse(cred.expires_at) - 1000;
  if (code === 0xa0 || (code === 0x98 && expired)) return 'the credential expired';
  if (code === 0x98) return 'the credential was revoked';
  if (code === 0x8e) return 'another connection took over this client id';
  if (code === 0x86 || code === 0x87) return 'the credential is not (or no longer) accepted';
  if (code === 0x8b) return 'the broker is shutting down';
  return 'see the reason code';
}

function onBrokerDisconnect(code) {
  const why = meaning(code);
  cred.revoked = why === 'the credential was revoked';
  const text = `DISCONNECT ${describe(code)}: ${why}`;
  log('broker-disconnect', { code, text });
  $('reason').dataset.code = code;
  $('reason').textContent = text;
}

function onError(cl, err) {
  if (cl === client && !cl.connected && typeof err.code === 'number') {
    $('reason').dataset.code = err.code;
    $('reason').textContent = `CONNACK ${describe(err.code)}: ${meaning(err.code)}`;
    setState('refused');
  }
  log('error', { message: String(err.message ?? err), code: err.code });
}

function onClose() {
  clearTimeout(refreshTimer);
  if ($('state').dataset.state === 'refused') return;
  if ($('reason').dataset.code === '') $('reason').textContent = 'connection closed (no DISCONNECT from the broker)';
  setState('disconnected');
  log('closed');
}

// Publishes at QoS 1 on the current connection; while the page is still
// connecting it holds them and sends them once connected. Resolves with the PUBACK reason code.
function send(target, text) {
  const topic = example.topics[target];
  return new Promise((resolve) => {
    const go = () => client.publish(topic, text, { qos: 1 }, (err, packet) =>
      resolve(err ? { error: String(err.message ?? err) } : { code: packet?.reasonCode ?? 0 }));
    if (client?.connected) go();
    else outbox.push(go);
  });
}

// --- the forms ----------------------------------------------------------------

$('user').value = params.get('user') ?? '';
$('mode').textContent = mode === 'seed'
  ? 'seed: the backend mints it with its API key'
  : 'exchange: an id token from the identity provider, traded at /v2/tokens/exchange';
$('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  config ??= await (await fetch('/config.json')).json();
  loginName = $('user').value;
  const r = await mint(loginName);
  if (!r.ok) {
    setState('refused', `login refused: ${r.body.error?.message ?? r.status}`);
    return;
  }
  $('login').hidden = true;
  useCredential(r.body);
  connect();
});

$('send').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (!cred) return;
  send($('target').value, $('text').value).then((r) => log('puback', r));
  $('text').value = '';
});
