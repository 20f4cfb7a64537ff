// Where a rank listens for Gloo's connections from the other ranks when the job spans machines.
#pragma once

#include <string>

namespace gex {

// The address (numeric) this machine's ranks tell the others to connect to, where the job spans
// machines and GLOO_SOCKET_IFNAME does not say: the one its hostname resolves to, as PyTorch
// takes it, where that is not a loopback address; else the one it reaches `master_addr` from (the
// network the job's store is on); else the one of its default route. PyTorch falls back to
// 127.0.0.1 where the hostname resolves to nothing, and takes Debian's and Ubuntu's 127.0.1.1 for
// the hostname as it is: the ranks on other machines then cannot connect. "" where this machine
// has no address but loopback ones.
std::string listen_address(const std::string& master_addr);

// 127.0.0.0/8 or ::1.
bool is_loopback_address(const std::string& numeric);

}  // namespace gex
