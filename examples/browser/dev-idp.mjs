// A stand-in identity provider for the page's exchange mode (Node.js
// standard library only). NOT for production: it signs an id token for any
// user name it is asked for. Real providers (Supabase, Auth0, Firebase,
// Clerk) give the page such a token after their own login.
//
//   GET  /.well-known/jwks.json   its public key (EC P-256, made at start)
//   POST /token {"user": "carol"} {"id_token": "<ES256 JWS>"}: iss = this
//        server's URL, aud = IDP_AUDIENCE, sub = the user, exp = now + IDP_TOKEN_TTL_S
//
//   node dev-idp.mjs [HOST:PORT]      (default 127.0.0.1:3001)
// Environment: IDP_AUDIENCE (default shortcred-example), IDP_TOKEN_TTL_S
// (default 3600). Tell tokend about it with
//   shortcredctl idp set --org ORG dev --issuer http://HOST:PORT \
//     --jwks-url http://HOST:PORT/.well-known/jwks.json --audience shortcred-example
import crypto from 'node:crypto';
import http from 'node:http';

const [host, port] = (process.argv[2] ?? '127.0.0.1:3001').split(/:(?=\d+$)/);
const audience = process.env.IDP_AUDIENCE ?? 'shortcred-example';
const tokenTtl = Number(process.env.IDP_TOKEN_TTL_S ?? 3600);
const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const kid = crypto.randomBytes(8).toString('hex');
const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] };
let issuer;  // http://HOST:PORT once listening

const b64url = (data) => Buffer.from(data).toString('base64url');
function sign(claims) {
  const input = `${b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid }))}.${b64url(JSON.stringify(claims))}`;
  // JOSE's ES256 signature is r‖s (IEEE P1363), not DER.
  const sig = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

// The page runs on another origin: answer CORS for POST with a JSON body.
const cors = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST',
  'Access-Control-Allow-Headers': 'Content-Type',
};
function send(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...cors });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  if (req.method === 'OPTIONS') {
    res.writeHead(204, cors);
    res.end();
  } else if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
    send(res, 200, jwks);
  } else if (req.method === 'POST' && req.url === '/token') {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { text += c; });
    req.on('end', () => {
      let user;
      try {
        ({ user } = JSON.parse(text));
      } catch {
        return send(res, 400, { error: 'the body is not JSON' });
      }
      if (typeof user !== 'string' || user === '') return send(res, 422, { error: 'user must be a non-empty string' });
      const now = Math.floor(Date.now() / 1000);
      console.log(`id token for ${user}`);
      return send(res, 200, { id_token: sign({ iss: issuer, aud: audience, sub: user, iat: now, exp: now + tokenTtl }) });
    });
  } else {
    send(res, 404, { error: 'no such page' });
  }
});
server.listen(Number(port), host, () => {
  issuer = `http://${host}:${server.address().port}`;
  console.log(`listening on ${issuer}/`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
