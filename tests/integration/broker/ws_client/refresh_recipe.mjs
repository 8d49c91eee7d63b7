// README "Refreshing credentials", the MQTT.js recipe, run for real by
// test_recipes.cpp against a broker with the plugin and a shortcred-tokend:
// a credential from POST /v2/tokens, a persistent MQTT 5 session subscribed
// at QoS 1, the backend's refresh (POST /v2/tokens/<id>/refresh), then the
// recipe's calls in the README's order. QoS 1 messages published while the
// client is away (by the broker's service account) must all arrive after the
// reconnect, without a new SUBSCRIBE. Lives beside ws_client.mjs for the
// MQTT.js that `npm ci` installs there (package-lock.json).
//
// One argument, a JSON object: {"host", "port", "tokend", "api_key",
// "svc_user", "svc_password", "org", "user", "client_id"}. Prints one JSON
// object with what happened, including what MQTT.js reported when the broker
// then kicked it (its refreshed credential revoked); exits 0 when every
// message arrived, 1 if not.
import mqtt from 'mqtt';

const cfg = JSON.parse(process.argv[2]);
const url = `mqtt://${cfg.host}:${cfg.port}`;
const inbox = `${cfg.org}/users/${cfg.user}/in`;
setTimeout(() => finish(false, 'timed out'), 8000).unref(); // the test's budget is 10 s

const backend = async (path, body, method = 'POST') => {
  const r = await fetch(cfg.tokend + path, {
    method,
    headers: { Authorization: `Bearer ${cfg.api_key}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
};
const backendRefresh = (tokenId) => backend(`/v2/tokens/${tokenId}/refresh`, {});

const seen = { connacks: [], payloads: [], ends: 0, disconnects: [] };
let wake = () => {};
const until = (pred) =>
  new Promise((resolve) => {
    const check = () => pred() && resolve();
    wake = check;
    check();
  });

// The broker's service account publishes to the client's inbox.
const svc = mqtt.connect(url, {
  clientId: 'svc-mqttjs-recipe', protocolVersion: 5,
  username: cfg.svc_user, password: cfg.svc_password,
});
const svcPublish = (payload) => svc.publishAsync(inbox, payload, { qos: 1 });

let cred = await backend('/v2/tokens', { user_id: cfg.user, ttl_seconds: 600 });
const first = cred;

// --- the README recipe (MQTT.js 5) ---
const opts = { clientId: cfg.client_id, protocolVersion: 5, clean: false,
               properties: { sessionExpiryInterval: 3600 },
               username: cred.username, password: cred.password,
               // (not in the README: a will that a clean end must not send)
               will: { topic: `${cfg.org}/users/${cfg.user}/will`, payload: 'will', qos: 1 } };
const client = mqtt.connect(url, opts);
// --- end of the first part ---

client.on('connect', (connack) => {
  seen.connacks.push({ rc: connack.reasonCode ?? 0, session_present: connack.sessionPresent });
  wake();
});
client.on('message', (topic, payload) => {
  seen.payloads.push(payload.toString());
  wake();
});
client.on('disconnect', (packet) => {
  seen.disconnects.push(packet.reasonCode ?? 0);
  wake();
});
client.on('end', () => {
  seen.ends += 1;
  wake();
});

await until(() => seen.connacks.length === 1);
await client.subscribeAsync(inbox, { qos: 1 });
await svcPublish('before');
await until(() => seen.payloads.length === 1);

// --- the README recipe, at cred.refresh_recommended_at ---
cred = await backendRefresh(cred.token_id);
client.options.username = cred.username; client.options.password = cred.password;
client.end(false, {}, () => client.reconnect());
// --- end of the recipe ---

// Messages published while the client is away: end's callback runs once
// the DISCONNECT is out and the stores are closed, just before reconnect()
// sends the new CONNECT, so publish as soon as `end` is emitted.
await until(() => seen.ends === 1);
await Promise.all([0, 1, 2, 3, 4].map((i) => svcPublish(`away-${i}`)));

await until(() => seen.connacks.length === 2);
await svcPublish('after');
const expected = ['before', 'away-0', 'away-1', 'away-2', 'away-3', 'away-4', 'after'];
await until(() => seen.payloads.length >= expected.length);
const ok = JSON.stringify(seen.payloads) === JSON.stringify(expected);

// What MQTT.js reports when the broker kicks the client (DISCONNECT 0x98):
// the refreshed credential revoked through the token service.
await backend(`/v2/tokens/${cred.token_id}`, undefined, 'DELETE');
await until(() => seen.disconnects.length === 1);
finish(ok);

function finish(ok, why) {
  process.stdout.write(JSON.stringify({
    ok, why, first_token: first?.token_id, first_expires_in: first?.expires_in,
    second_token: cred?.token_id, second_expires_in: cred?.expires_in, ...seen,
  }) + '\n');
  setTimeout(() => process.exit(ok ? 0 : 1), 1000).unref();
  try {
    client.end(false, {}, () => svc.end(false, {}, () => process.exit(ok ? 0 : 1)));
  } catch {
    process.exit(1); // timed out before the client existed
  }
}
