// MQTT over WebSockets with a stock MQTT.js, driven by the broker edge tests
// (test_edge.cpp). One argument, a JSON object:
//   {"url": "ws://127.0.0.1:PORT", "username", "password", "clientId",
//    "protocolVersion": 5 | 4, "ca": "PEM file (wss://)"?,
//    "actions": [ {"op": "subscribe", "topic", "qos"?},
//                 {"op": "publish", "topic", "payload", "qos"?},
//                 {"op": "wait_message", "topic", "timeout_ms"?},
//                 {"op": "wait_close", "timeout_ms"?},
//                 {"op": "sleep", "ms"} ]}
// Prints one JSON object per line on stdout, each with "t" (Unix ms):
//   connack {code}        CONNACK accepted (code 0)
//   refused {code}        CONNACK refusal (v5 reason code / 3.1.1 return code)
//   suback {topic, code}  granted QoS or SUBACK failure code
//   puback {topic, code}  publish done (QoS 1: PUBACK reason code)
//   message {topic, payload}
//   wait_message {topic, ok}
//   disconnect {reason}   a DISCONNECT from the broker (MQTT 5)
//   close                 the connection is gone
//   error {message, code?}
// After the actions (or once the connection is gone) the client sends
// DISCONNECT if still connected and exits 0; a bad argument exits 2.
import fs from 'node:fs';
import mqtt from 'mqtt';

const emit = (event, fields = {}) =>
  process.stdout.write(JSON.stringify({ event, t: Date.now(), ...fields }) + '\n');

let cfg;
try {
  cfg = JSON.parse(process.argv[2] ?? '');
} catch (e) {
  process.stderr.write(`usage: node ws_client.mjs '<json>' (${e.message})\n`);
  process.exit(2);
}

let closed = false;
const waiters = new Set();
const messages = [];
const wake = () => waiters.forEach((w) => w());

// Resolves when pred() holds (re-checked on every event) or after timeout_ms.
const until = (pred, timeoutMs) =>
  new Promise((resolve) => {
    const check = () => {
      if (pred()) done(true);
    };
    const done = (ok) => {
      clearTimeout(timer);
      waiters.delete(check);
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    waiters.add(check);
    check();
  });

const client = mqtt.connect(cfg.url, {
  username: cfg.username,
  password: cfg.password,
  clientId: cfg.clientId,
  protocolVersion: cfg.protocolVersion ?? 5,
  clean: true,
  keepalive: 30,
  reconnectPeriod: 0, // a refused or kicked client stays down
  connectTimeout: 5000,
  ...(cfg.ca ? { ca: fs.readFileSync(cfg.ca), rejectUnauthorized: true } : {}),
});

let connected = false;
client.on('connect', (connack) => {
  connected = true;
  emit('connack', { code: connack.reasonCode ?? connack.returnCode ?? 0 });
  wake();
});
client.on('error', (err) => {
  if (!connected && typeof err.code === 'number') emit('refused', { code: err.code });
  else emit('error', { message: String(err.message ?? err), code: err.code });
  wake();
});
client.on('disconnect', (packet) => {
  emit('disconnect', { reason: packet.reasonCode ?? 0 });
  wake();
});
client.on('message', (topic, payload) => {
  messages.push(topic);
  emit('message', { topic, payload: payload.toString() });
  wake();
});
client.on('close', () => {
  if (!closed) emit('close');
  closed = true;
  wake();
});

const run = async () => {
  if (!(await until(() => connected || closed, 6000)) || !connected) return;
  for (const a of cfg.actions ?? []) {
    if (closed) break;
    if (a.op === 'subscribe') {
      await new Promise((resolve) =>
        // MQTT.js reports a SUBACK failure code as an error (granted then
        // holds the requested QoS): take the code from the SUBACK itself.
        client.subscribe(a.topic, { qos: a.qos ?? 0 }, (err, granted, suback) => {
          const code = suback?.granted?.[0] ?? err?.code ?? granted?.[0]?.qos;
          if (typeof code === 'number') emit('suback', { topic: a.topic, code });
          else emit('error', { message: String(err?.message ?? err) });
          resolve();
        }),
      );
    } else if (a.op === 'publish') {
      await new Promise((resolve) =>
        client.publish(a.topic, a.payload ?? '', { qos: a.qos ?? 0 }, (err, packet) => {
          const code = err ? (err.code ?? -1) : (packet?.reasonCode ?? 0);
          emit('puback', { topic: a.topic, code });
          resolve();
        }),
      );
    } else if (a.op === 'wait_message') {
      const ok = await until(() => messages.includes(a.topic), a.timeout_ms ?? 3000);
      emit('wait_message', { topic: a.topic, ok });
    } else if (a.op === 'wait_close') {
      await until(() => closed, a.timeout_ms ?? 5000);
    } else if (a.op === 'sleep') {
      await new Promise((resolve) => setTimeout(resolve, a.ms ?? 0));
    } else {
      emit('error', { message: `unknown op ${a.op}` });
    }
  }
};

run().then(
  () => {
    if (closed) process.exit(0);
    client.end(false, {}, () => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  },
  (e) => {
    emit('error', { message: String(e) });
    process.exit(1);
  },
);
