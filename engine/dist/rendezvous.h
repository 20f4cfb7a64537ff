// The rendezvous of a data-parallel job through c10d's TCPStore, below ProcessGroup: connecting
// to the store (the master's name checked at once, open files enough for the job), the ranks'
// check-in at the door, and the store operations the group's fault handling shares.
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dist/world.h"

namespace gex {

// InputError where `host` (MASTER_ADDR) does not resolve: a typo, said at once, where c10d would
// retry it until the timeout (a resolver only slow to answer is asked again until `timeout`).
void check_resolves(const std::string& host, std::chrono::milliseconds timeout);

// The open files a process needs in a job of `ranks`, as the store's host or not.
int64_t open_files_needed(int ranks, bool hosts_store);
// Open files enough for `needed`: the soft limit is raised to the hard one where it is lower (as
// Go's runtime does at start). Where the hard limit is lower too, why not ("`who` `what`, which
// takes about N open files, but …"), said at start rather than as c10d's abort of the store's host
// when it runs out ("Too many open files"); else "".
std::string open_files_for(int64_t needed, const std::string& who, const std::string& what);

// A connection to the store at `addr`:`port` (`serve`: this process hosts it), its keys under
// `prefix` where one is given (World::store_prefix); what c10d throws where it cannot.
c10::intrusive_ptr<c10d::Store> connect_store(const std::string& addr, int port, bool serve,
                                              std::chrono::milliseconds timeout, const std::string& prefix = "");

// Every rank says at the door whether it can take part (`cannot`: why not; "" where it can) and
// waits for the others: one rank's mistake ends the job at once, said by every rank, and the ranks
// that never come are named, where Gloo's connection would wait out the timeout and say "Socket
// Timeout"; so is a rank that came twice. The first refusal stands; rank 0, the store's host, stays
// until every rank has read it or, past the timeout, those that came. An InputError when the job
// cannot form.
void check_in(c10d::Store& store, const World& world, std::chrono::milliseconds timeout, const std::string& cannot);

// `value` at `key` unless the key holds one already (compare-and-set; on a store without it,
// check-then-set); what the key holds after.
std::string set_first(c10d::Store& store, const std::string& key, const std::string& value);

// Looks again, each pause twice the last up to `longest`, until `done` or `deadline`; whether done.
bool wait_until(std::chrono::steady_clock::time_point deadline, const std::function<bool()>& done,
                std::chrono::milliseconds longest = std::chrono::milliseconds(200));

// A store's values are bytes; gex's are text.
std::vector<uint8_t> to_bytes(const std::string& text);
std::string from_bytes(const std::vector<uint8_t>& value);

// The first line of an error's text (c10d's carry a trace after it); a timeout in whole seconds ("60 s").
std::string first_line(const std::string& text);
std::string seconds_text(std::chrono::milliseconds t);

}  // namespace gex
