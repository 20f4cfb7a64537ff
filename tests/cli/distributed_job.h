// Data-parallel `gex` jobs of real worker processes for the tests (DESIGN §6): started in the
// background as torchrun and srun start them, watched through files, killed at the end.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gex_process.h"

namespace gex::test {

// A loopback port nobody listens on (bound and released).
inline int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

// A process's state letter (R, S, T for stopped, Z …) and parent, from /proc/PID/stat; state '?'
// where it has ended.
struct ProcStat {
  char state = '?';
  int ppid = 0;
};
inline ProcStat proc_stat(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');  // (the command's name may hold spaces and parentheses)
  ProcStat out;
  if (close == std::string::npos) return out;
  std::istringstream rest(line.substr(close + 2));
  rest >> out.state >> out.ppid;
  return out;
}

class DistributedJob : public GexTest {
 protected:
  // Whatever a failed assertion left running is stopped: the launchers and their workers.
  void TearDown() override {
    for (int pid : m_started) {
      for (int child : children_of(pid)) ::kill(child, SIGKILL);
      ::kill(pid, SIGKILL);
    }
  }
  // Starts `gex ARGS` in the background; its pid, and later its status, land in files.
  void start(const std::string& name, const std::string& args, const std::string& env = "") {
    const std::string cmd = "sh -c '" + env + " " + std::string(GEX_BINARY) + " " + args + " >" + dir.file(name + ".out") +
                            " 2>" + dir.file(name + ".err") + " & echo $! >" + dir.file(name + ".pid") +
                            "; wait $!; echo $? >" + dir.file(name + ".rc") + "' </dev/null >/dev/null 2>&1 &";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    if (const int pid = pid_of(name); pid > 0) m_started.push_back(pid);
  }
  // The exit status of a started command, waiting up to `limit`; -1 if it has not ended.
  int wait_for(const std::string& name, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream rc(dir.file(name + ".rc"));
      int code = -1;
      if (rc >> code) return code;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }
  bool wait_until(const std::function<bool()>& ready, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ready()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  int pid_of(const std::string& name) {
    int pid = 0;
    wait_until([&] { return bool(std::ifstream(dir.file(name + ".pid")) >> pid); }, std::chrono::seconds(10));
    return pid;
  }
  // The worker processes a launcher started.
  std::vector<int> children_of(int pid) {
    std::vector<int> out;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      const std::string name = e.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      if (proc_stat(std::stoi(name)).ppid == pid) out.push_back(std::stoi(name));
    }
    return out;
  }
  // The rank a worker was started as (its RANK variable); -1 if it cannot be read.
  int rank_of(int pid) {
    std::ifstream environ("/proc/" + std::to_string(pid) + "/environ");
    for (std::string variable; std::getline(environ, variable, '\0');)
      if (variable.rfind("RANK=", 0) == 0) return std::stoi(variable.substr(5));
    return -1;
  }
  std::vector<int> m_started;
};

}  // namespace gex::test
