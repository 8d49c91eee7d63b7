// Why a CONNECT of ours was refused, and what the client is told. The one
// table of MQTT 5 CONNACK reasons the plugin chooses (README "What a client
// sees"); auth.cpp maps every refusal through basic_auth_answer().
//
// The reason reaches the client only where the broker passes it on (Mosquitto
// 2.1, a plain BASIC_AUTH answered at once, an MQTT 5 client:
// BrokerCompat::connack_reasons()). Everywhere else a refusal is
// MOSQ_ERR_AUTH, "not authorised" (0x87 / 3.1.1 5), and "Redis could not be
// asked" is MOSQ_ERR_UNKNOWN, a close without CONNACK, which every client
// library treats as transient — better for 3.1.1 clients than 2.1's CONNACK
// 5 for MOSQ_ERR_SERVER_UNAVAILABLE, which some treat as final.
#pragma once

#include <mosquitto.h>

namespace shortcred::plugin {

enum class Refusal {
  bad_credential,      // 0x86 wrong secret, unknown/expired/revoked token, malformed
  not_authorised,      // 0x87 the credential is fine, its org no longer exists
  banned,              // 0x8A the org is disabled
  client_id,           // 0x85 sanitising, prefix, binding, another user's id
  rate_exceeded,       // 0x9F the address is throttled after repeated failures
  busy,                // 0x89 a connection cap of the org or user is reached
  server_unavailable,  // 0x88 Redis could not be asked
  internal,            // 0x83 broken data in Redis, no tick event, …
};

// The MQTT 5 CONNACK reason code of `r`; Mosquitto 2.1's MOSQ_ERR_* values
// for these are the reason codes themselves.
constexpr int mqtt5_reason(Refusal r) {
  switch (r) {
    case Refusal::bad_credential: return 0x86;
    case Refusal::not_authorised: return 0x87;
    case Refusal::banned: return 0x8A;
    case Refusal::client_id: return 0x85;
    case Refusal::rate_exceeded: return 0x9F;
    case Refusal::busy: return 0x89;
    case Refusal::server_unavailable: return 0x88;
    case Refusal::internal: return 0x83;
  }
  return 0x87;
}

// What MOSQ_EVT_BASIC_AUTH (or EXT_AUTH_START) returns for `r`: the reason
// code itself when `reasons_reach_client`, else MOSQ_ERR_AUTH or, for
// server_unavailable, MOSQ_ERR_UNKNOWN.
constexpr int basic_auth_answer(Refusal r, bool reasons_reach_client) {
  if (reasons_reach_client) return r == Refusal::not_authorised ? MOSQ_ERR_AUTH : mqtt5_reason(r);
  return r == Refusal::server_unavailable ? MOSQ_ERR_UNKNOWN : MOSQ_ERR_AUTH;
}

}  // namespace shortcred::plugin
