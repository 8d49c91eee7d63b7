# README "Refreshing credentials", the paho-mqtt recipe, run for real by
# test_recipes.cpp against a broker with the plugin and a shortcred-tokend:
# a credential from POST /v2/tokens, a persistent MQTT 5 session subscribed
# at QoS 1, the backend's refresh (POST /v2/tokens/<id>/refresh), then the
# recipe's calls in the README's order. QoS 1 messages published while the
# client is away (by the broker's service account) must all arrive after the
# reconnect, without a new SUBSCRIBE. Written for paho-mqtt 1.6 (Debian 12's
# python3-paho-mqtt); 2.x differs only in the Client constructor.
#
# One argument, a JSON object: {"host", "port", "tokend", "api_key",
# "svc_user", "svc_password", "org", "user", "client_id"}. Prints one JSON
# object with what happened, including what paho reported when the broker
# then kicked it (its refreshed credential revoked); exits 0 when every
# message arrived, 1 if not.
import json
import sys
import threading
import time
import urllib.request

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

cfg = json.loads(sys.argv[1])
host, port = cfg["host"], cfg["port"]
inbox = f'{cfg["org"]}/users/{cfg["user"]}/in'
deadline = time.monotonic() + 8  # the test's budget is 10 s


def backend(path, body, method="POST"):
    req = urllib.request.Request(cfg["tokend"] + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + cfg["api_key"],
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read() or b"null")


def backend_refresh(token_id):
    return backend(f"/v2/tokens/{token_id}/refresh", {})


cond = threading.Condition()
seen = {"connacks": [], "payloads": [], "subacks": 0, "disconnects": []}


def until(pred):
    with cond:
        return cond.wait_for(pred, max(0, deadline - time.monotonic()))


def on_connect(client, userdata, flags, rc, properties=None):
    with cond:
        seen["connacks"].append({"rc": rc.value, "session_present": bool(flags["session present"])})
        cond.notify_all()


def on_subscribe(client, userdata, mid, granted, properties=None):
    with cond:
        seen["subacks"] += 1
        cond.notify_all()


def on_message(client, userdata, msg):
    with cond:
        seen["payloads"].append(msg.payload.decode())
        cond.notify_all()


def on_disconnect(client, userdata, rc, properties=None):
    with cond:
        seen["disconnects"].append(rc if isinstance(rc, int) else rc.value)
        cond.notify_all()


# The broker's service account publishes to the client's inbox.
svc = mqtt.Client(client_id="svc-paho-recipe", protocol=mqtt.MQTTv5)
svc.username_pw_set(cfg["svc_user"], cfg["svc_password"])
svc.connect(host, port)
svc.loop_start()


def svc_publish(payload):
    svc.publish(inbox, payload, qos=1).wait_for_publish(5)


cred = backend("/v2/tokens", {"user_id": cfg["user"], "ttl_seconds": 600})
first = cred

# --- the README recipe (paho-mqtt 1.6) ---
props = Properties(PacketTypes.CONNECT); props.SessionExpiryInterval = 3600
client = mqtt.Client(client_id=cfg["client_id"], protocol=mqtt.MQTTv5)
client.username_pw_set(cred["username"], cred["password"])
# (not in the README: callbacks, and a will that a clean disconnect must not send)
client.on_connect, client.on_subscribe = on_connect, on_subscribe
client.on_message, client.on_disconnect = on_message, on_disconnect
client.will_set(f'{cfg["org"]}/users/{cfg["user"]}/will', "will", qos=1)
client.connect(host, port, clean_start=False, properties=props)
client.loop_start()
# --- end of the first part ---

until(lambda: len(seen["connacks"]) == 1)
client.subscribe(inbox, qos=1)
until(lambda: seen["subacks"] == 1)
svc_publish("before")
until(lambda: len(seen["payloads"]) == 1)

# --- the README recipe, at cred["refresh_recommended_at"] ---
cred = backend_refresh(cred["token_id"])        # POST /v2/tokens/<id>/refresh
client.username_pw_set(cred["username"], cred["password"])
client.disconnect()                             # clean: no will
client.loop_stop()                              # the loop thread ends at the disconnect
# (not in the README: messages published while the client is away)
for i in range(5):
    svc_publish(f"away-{i}")
client.reconnect()                              # same host, port, clean_start, properties
client.loop_start()
# --- end of the recipe ---

until(lambda: len(seen["connacks"]) == 2)
svc_publish("after")
expected = ["before"] + [f"away-{i}" for i in range(5)] + ["after"]
ok = until(lambda: len(seen["payloads"]) >= len(expected)) and seen["payloads"] == expected

# What paho reports when the broker kicks the client (DISCONNECT 0x98): the
# refreshed credential revoked through the token service.
backend(f'/v2/tokens/{cred["token_id"]}', None, method="DELETE")
until(lambda: len(seen["disconnects"]) == 2)
client.loop_stop()
svc.disconnect()
svc.loop_stop()
print(json.dumps({"ok": ok, "paho": paho.mqtt.__version__,
                  "first_token": first["token_id"], "first_expires_in": first["expires_in"],
                  "second_token": cred["token_id"], "second_expires_in": cred["expires_in"],
                  **seen}))
sys.exit(0 if ok else 1)
