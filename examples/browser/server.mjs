// The smallest customer backend for a browser MQTT client (Node.js standard
// library only). It holds the organisation's API key, "logs in" a user (a
// demo: no password — put your real login here) and exchanges the API key for
// a short-lived MQTT credential of that user with shortcred-tokend:
//
//   POST /login   {"user": "alice"}  → POST /v2/tokens {"user_id": "alice"}
//   POST /refresh (the session's cookie) → POST /v2/tokens/<id>/refresh
//
// and serves the page (public/) and the stock MQTT.js browser bundle from
// node_modules (no CDN). The API key never leaves this process; the page only
// ever sees its own user's credential.
//
// The page's exchange mode needs no API key: the page gets an id token from
// an identity provider (IDP_URL, e.g. dev-idp.mjs) and trades it for a
// credential at POST /v2/tokens/exchange, which this server only passes on to
// tokend as it is (the same origin as the page, as a reverse proxy in front
// of tokend would; tokend sends no CORS headers).
//
// Configuration (environment):
//   SHORTCRED_API_KEY     sk_… of the org (without it: exchange mode only)
//   SHORTCRED_TOKEND_URL  the token service (default http://127.0.0.1:8080)
//   SHORTCRED_BROKER_URL  what the page connects to, e.g. wss://mqtt.example.com:8884
//   LISTEN                HOST:PORT to serve on (default 127.0.0.1:3000; an
//                         argument, `node server.mjs HOST:PORT`, overrides it)
//   TLS_CERT, TLS_KEY     PEM files: serve HTTPS instead of HTTP
//   TOKEN_TTL_S           credential lifetime in seconds (default: the org's default_ttl)
//   OTHER_ORG             an org the page tries, and fails, to read (default globex)
//   IDP_URL, SHORTCRED_ORG  for the exchange mode: the provider the page asks
//                         for an id token, and the org to exchange it in
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const apiKey = env.SHORTCRED_API_KEY ?? '';
if (apiKey !== '' && !apiKey.startsWith('sk_')) {
  console.error('server.mjs: SHORTCRED_API_KEY must be the org\'s API key (sk_…)');
  process.exit(2);
}
const tokend = new URL(env.SHORTCRED_TOKEND_URL ?? 'http://127.0.0.1:8080');
const [host, port] = (process.argv[2] ?? env.LISTEN ?? '127.0.0.1:3000').split(/:(?=\d+$)/);
const tls = env.TLS_CERT && env.TLS_KEY
  ? { cert: fs.readFileSync(env.TLS_CERT), key: fs.readFileSync(env.TLS_KEY) }
  : null;
const ttlSeconds = env.TOKEN_TTL_S ? Number(env.TOKEN_TTL_S) : undefined;
const pageConfig = {
  broker_url: env.SHORTCRED_BROKER_URL ?? 'wss://localhost:8884',
  other_org: env.OTHER_ORG ?? 'globex',
  ...(env.IDP_URL && env.SHORTCRED_ORG ? { idp_url: env.IDP_URL, org: env.SHORTCRED_ORG } : {}),
  ...(ttlSeconds ? { ttl_seconds: ttlSeconds } : {}),
};

const files = {
  '/': [path.join(here, 'public/index.html'), 'text/html; charset=utf-8'],
  '/app.js': [path.join(here, 'public/app.js'), 'text/javascript; charset=utf-8'],
  '/style.css': [path.join(here, 'public/style.css'), 'text/css; charset=utf-8'],
  '/mqtt.min.js': [createRequire(import.meta.url).resolve('mqtt/dist/mqtt.min'),
    'text/javascript; charset=utf-8'],
};

// session id (HttpOnly cookie) → { user, tokenId }. In memory: a restart logs
// everyone out, which a demo can afford.
const sessions = new Map();

// One call to shortcred-tokend, with the API key unless `withKey` is false.
// Resolves {status, body}.
function tokendCall(method, route, body, withKey = true) {
  const data = body === undefined ? '' : JSON.stringify(body);
  const client = tokend.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(new URL(route, tokend), {
      method,
      headers: {
        ...(withKey ? { Authorization: `Bearer ${apiKey}` } : {}),
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(data),
      },
      timeout: 5000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: text ? JSON.parse(text) : {} });
        } catch {
          reject(new Error(`token service answered ${res.statusCode} with no JSON`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('token service timed out')));
    req.on('error', reject);
    req.end(data);
  });
}

function send(res, status, body, headers = {}) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(data);
}
const fail = (res, status, code, message) => send(res, status, { error: { code, message } });

function readJson(req) {
  return new Promise((resolve, reject) => {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      reject(Object.assign(new Error('send Content-Type: application/json'), { status: 415 }));
      return;
    }
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      text += c;
      if (text.length > 4096) {
        reject(Object.assign(new Error('the body is over 4 KiB'), { status: 413 }));
        req.destroy();
      }
    });
    req.on('end', () => {
      try {
        resolve(text ? JSON.parse(text) : {});
      } catch {
        reject(Object.assign(new Error('the body is not JSON'), { status: 400 }));
      }
    });
    req.on('error', reject);
  });
}

function sessionOf(req) {
  const m = /(?:^|;\s*)sid=([0-9a-f]{64})/.exec(req.headers.cookie ?? '');
  return m ? [m[1], sessions.get(m[1])] : [null, undefined];
}

// What the page needs of tokend's 201 body (everything but the API key's
// business: scope and client binding stay server-side).
const credential = (b) => ({
  token_id: b.token_id,
  username: b.username,
  password: b.password,
  expires_at: b.expires_at,
  expires_in: b.expires_in,
  refresh_recommended_at: b.refresh_recommended_at,
});

async function login(req, res) {
  const { user } = await readJson(req);
  if (typeof user !== 'string' || user === '') return fail(res, 422, 'invalid_user', 'user must be a non-empty string');
  const r = await tokendCall('POST', '/v2/tokens', { user_id: user, ...(ttlSeconds ? { ttl_seconds: ttlSeconds } : {}) });
  if (r.status !== 201) return send(res, r.status, r.body);
  const sid = crypto.randomBytes(32).toString('hex');
  sessions.set(sid, { user, tokenId: r.body.token_id });
  console.log(`login ${user}: token ${r.body.token_id}`);
  const secure = tls ? '; Secure' : '';
  return send(res, 201, credential(r.body), {
    'Set-Cookie': `sid=${sid}; HttpOnly; SameSite=Strict; Path=/${secure}`,
  });
}

async function refresh(req, res) {
  const [, s] = sessionOf(req);
  if (!s) return fail(res, 401, 'not_logged_in', 'log in first');
  const r = await tokendCall('POST', `/v2/tokens/${s.tokenId}/refresh`, {});
  if (r.status !== 201) return send(res, r.status, r.body);
  console.log(`refresh ${s.user}: token ${s.tokenId} → ${r.body.token_id}`);
  s.tokenId = r.body.token_id;
  return send(res, 201, credential(r.body));
}

// The exchange, passed on as it is: no API key, tokend checks everything.
async function exchange(req, res) {
  const r = await tokendCall('POST', '/v2/tokens/exchange', await readJson(req), false);
  if (r.status === 201) console.log(`exchange: token ${r.body.token_id} for ${r.body.username}`);
  return send(res, r.status, r.status === 201 ? credential(r.body) : r.body);
}

async function route(req, res) {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'GET' && files[url.pathname]) {
    const [file, type] = files[url.pathname];
    res.writeHead(200, { 'Content-Type': type });
    fs.createReadStream(file).pipe(res);
  } else if (req.method === 'GET' && url.pathname === '/config.json') {
    send(res, 200, pageConfig);
  } else if (req.method === 'POST' && (url.pathname === '/login' || url.pathname === '/refresh')) {
    if (apiKey === '') fail(res, 404, 'no_api_key', 'this backend holds no API key: use the exchange mode');
    else await (url.pathname === '/login' ? login : refresh)(req, res);
  } else if (req.method === 'POST' && url.pathname === '/v2/tokens/exchange') {
    await exchange(req, res);
  } else {
    fail(res, 404, 'not_found', 'no such page');
  }
}

const handler = (req, res) => {
  route(req, res).catch((e) => {
    console.error(`${req.method} ${req.url}: ${e.message}`);
    if (!res.headersSent) fail(res, e.status ?? 502, e.status ? 'bad_request' : 'upstream_error', e.message);
  });
};
const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
server.listen(Number(port), host, () => {
  console.log(`listening on ${tls ? 'https' : 'http'}://${host}:${server.address().port}/`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
