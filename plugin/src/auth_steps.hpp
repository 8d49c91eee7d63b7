// The steps of one credential check, shared by the synchronous CONNECT path
// (auth.cpp) and Mosquitto 2.1's delayed basic auth (delayed_auth.cpp):
//
//   parse_claim        not ours → DEFER; malformed → refused; no Redis
//   check_client_id    sanitising, client_id_prefix, another tenant's id
//   (lookup)           one pipelined round trip: cred hash + org hash
//   finish             lookup outcome → credential checks → session
#pragma once

#include <cstdint>
#include <string>

#include "state.hpp"

namespace shortcred::plugin {

// Returned by a step that found nothing to refuse: go on.
inline constexpr int kProceed = 1;

// Counts (count_auth_failure) and logs a refused CONNECT; returns MOSQ_ERR_AUTH.
int refuse(Plugin& p, std::uint64_t& counter, const char* why, std::string_view org,
           std::string_view token, std::string_view client_id);
int check_client_id(Plugin& p, Claim& c);
// Maps the lookup's outcome to the answer: breaker bookkeeping, every check
// of the credential and org records, then a new session (or, in place, the
// swapped credential).
int finish(Plugin& p, Claim& c, const CredStore::Lookup& l);
// What to look up for `c`: its credential, its org and (where owners are
// recorded) its client id's owner.
CredStore::Lookup lookup_of(const Plugin& p, const Claim& c);
// Feeds the answer of a looked-up attempt to the failed-auth throttle; returns `rc`.
int note_outcome(Plugin& p, const Claim& c, int rc);

}  // namespace shortcred::plugin
