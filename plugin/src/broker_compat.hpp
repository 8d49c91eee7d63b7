// What differs between the Mosquitto versions the plugin supports — 2.0.11
// (Debian 12), 2.0.21 (bookworm-backports) and 2.1.x — detected at run time
// from the running broker, never from its private structs. The plugin is
// built once, against Debian 12's 2.0.11 headers, so the few 2.1 prototypes,
// constants and event structs it uses are declared here (as in 2.1.2's
// include/mosquitto/broker.h and defs.h).
#pragma once

struct mosquitto;

namespace shortcred::plugin {

// MOSQ_ERR_AUTH_DELAYED (2.1): a BASIC_AUTH answer "ask me later"; the
// plugin then calls mosquitto_complete_basic_auth() from the broker thread.
inline constexpr int kErrAuthDelayed = -5;
// MOSQ_EVT_CONNECT (2.1): a client finished connecting (after delayed auth
// too). MOSQ_EVT_CLIENT_OFFLINE (2.1): a client with a persistent session
// went offline — 2.1 sends this instead of MOSQ_EVT_DISCONNECT.
inline constexpr int kEvtConnect = 11;
inline constexpr int kEvtClientOffline = 28;

struct EvtConnect {
  void* future;
  struct mosquitto* client;
  void* future2[4];
};
struct EvtClientOffline {
  void* future;
  struct mosquitto* client;
  int reason;
  void* future2[4];
};

struct BrokerCompat {
  // void mosquitto_complete_basic_auth(const char *clientid, int result);
  using CompleteBasicAuth = void (*)(const char*, int);
  // int mosquitto_set_clientid(struct mosquitto *client, const char *clientid);
  using SetClientId = int (*)(struct mosquitto*, const char*);

  CompleteBasicAuth complete_basic_auth = nullptr;
  SetClientId set_clientid = nullptr;

  // Looks the 2.1 entry points up in the running broker (dlsym).
  static BrokerCompat detect();
  // The broker has 2.1's plugin API (told by mosquitto_complete_basic_auth):
  // delayed basic auth, MOSQ_EVT_CONNECT and MOSQ_EVT_CLIENT_OFFLINE.
  bool v2_1() const { return complete_basic_auth != nullptr; }
  const char* name() const { return v2_1() ? "2.1 or later" : "2.0"; }
  // Whether a BASIC_AUTH answer may be an MQTT 5 CONNACK reason code. 2.1's
  // handle__connect sends 0x80, 0x83, 0x85, 0x86, 0x88, 0x89, 0x8A, 0x8C and
  // 0x9F as returned (MOSQ_ERR_* of the same value; CONNACK 5 to 3.1.1
  // clients); 2.0 knows only MOSQ_ERR_AUTH (0x87 / 5) and closes the socket
  // on anything else. Neither lets a plugin choose the reason of
  // mosquitto_complete_basic_auth() (always 0x87), of an enhanced-auth
  // refusal (0x87) or of a kick (mosquitto_kick_client_by_*: DISCONNECT
  // 0x98, administrative action).
  bool connack_reasons() const { return v2_1(); }
  // What MOSQ_EVT_RELOAD returns when all went well: 2.0 hands the event on
  // to the next plugin only on DEFER (anything else ends the reload there);
  // 2.1 shuts the broker down on anything but SUCCESS.
  int reload_done() const;
};

}  // namespace shortcred::plugin
