// The steps of one credential check, shared by the synchronous CONNECT path
// (auth.cpp) and Mosquitto 2.1's delayed basic auth (delayed_auth.cpp):
//
//   parse_claim        not ours → DEFER; malformed → refused; no Redis
//   check_client_id    sanitising, client_id_prefix
//   (throttle)         refused from memory: a held token, a throttled address
//   (lookup)           one pipelined round trip: cred hash + org hash
//   finish             lookup outcome → credential checks → another user's
//                      id, caps → session
#pragma once

#include <cstdint>
#include <string>

#include "state.hpp"

namespace shortcred::plugin {

// Returned by a step that found nothing to refuse: go on.
inline constexpr int kProceed = 1;

// Counts, logs (token id and client id, never a secret) and answers a
// refusal of `c`: what the client is told is basic_auth_answer().
int refuse(Plugin& p, Claim& c, Refusal r, std::uint64_t& counter, const char* why);
// The answer for a refusal of `c`, without counting or logging.
int answer(const Plugin& p, Claim& c, Refusal r);
int check_client_id(Plugin& p, Claim& c);
// Maps the lookup's outcome to the answer: breaker bookkeeping, every check
// of the credential and org records, then a new session (or, in place, the
// swapped credential).
int finish(Plugin& p, Claim& c, const CredStore::Lookup& l);
// What to look up for `c`: its credential, its org and (where owners are
// recorded) its client id's owner.
CredStore::Lookup lookup_of(Plugin& p, const Claim& c);
// Feeds the outcome of a looked-up attempt to the failed-auth throttle; returns `rc`.
int note_outcome(Plugin& p, const Claim& c, int rc);

}  // namespace shortcred::plugin
