#include "gex/launcher.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "dist/process_group.h"
#include "dist/world.h"
#include "errors.h"

namespace gex::cli {

namespace {

std::vector<pid_t> g_workers;

// Each worker is in its own process group, so a terminal's Ctrl-C reaches only the launcher,
// which passes it on once.
void forward_signal(int sig) {
  const int saved = errno;  // (the wait loop reads waitpid's)
  for (pid_t pid : g_workers)
    if (pid > 0) ::kill(pid, sig);
  errno = saved;
}

// Ctrl-Z (SIGTSTP) stops the whole job, the workers first; SIGCONT (`fg`, `bg`, Slurm's resume)
// continues them. A collective counts only time awake against --dist-timeout, so the job goes on.
void stop_job(int) {
  const int saved = errno;
  forward_signal(SIGSTOP);
  ::kill(::getpid(), SIGSTOP);
  errno = saved;
}

pid_t start_worker(const std::vector<std::string>& args, const World& world) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the launcher
  if (::getppid() != parent) ::_exit(kExitRunFailed);
  for (const auto& [name, value] : torchrun_environment(world)) ::setenv(name.c_str(), value.c_str(), 1);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv("/proc/self/exe", argv.data());
  std::fprintf(stderr, "gex train: cannot start worker %d: %s\n", world.rank, std::strerror(errno));
  ::_exit(kExitRunFailed);
}

// Where the workers of this launcher leave their errors: rank-<r>, one file each.
constexpr const char* kErrorsVariable = "GEX_WORKER_ERRORS";

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// What a rank's error says, less the words that only name the rank itself: "rank 2 was lost during
// an all-reduce; rank 3 stops (its socket's error)" says what rank 0's "…; rank 0 stops (…)" says;
// and, as a second form where the words are of the rank itself, with its number as "*": rank 1's
// "rank 1 cannot open its network interface …" says what rank 0's "rank 0 cannot …" says.
std::vector<std::string> gists(const std::string& line, int rank) {
  const std::string me = "rank " + std::to_string(rank) + " ";
  std::vector<std::string> forms{line.substr(0, line.find("; " + me + "stops"))};
  if (const auto at = forms[0].find(me); at != std::string::npos)
    forms.push_back(std::string(forms[0]).replace(at, me.size(), "rank * "));
  return forms;
}

// After the job: each other rank's error that an earlier rank did not say (the same input error N
// times is one message; "rank 0 was lost" is not), and which ranks said the same of themselves.
void say_other_ranks_errors(const std::filesystem::path& dir, int nproc) {
  std::set<std::string> said;
  std::vector<int> same;  // the ranks that said of themselves what an earlier rank said of itself
  for (int r = 0; r < nproc; ++r) {
    const std::string line = read_all(dir / ("rank-" + std::to_string(r)));
    if (line.empty()) continue;
    const auto forms = gists(line, r);
    const bool new_words = std::none_of(forms.begin(), forms.end(), [&](const auto& f) { return said.count(f); });
    if (new_words && r > 0) std::cerr << "rank " << r << ": " << line << std::flush;  // (rank 0 said its own)
    else if (!new_words && forms.size() == 2) same.push_back(r);
    said.insert(forms.begin(), forms.end());
  }
  if (!same.empty()) std::cerr << ranks_text(same) << ": the same\n";
}

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kExitRunFailed;
}

}  // namespace

void say_error(const std::string& line) {
  const char* dir = std::getenv(kErrorsVariable);
  const char* rank = std::getenv("RANK");
  if (dir && *dir && rank) {
    if (std::ofstream(std::filesystem::path(dir) / (std::string("rank-") + rank)) << line << '\n') {
      if (std::string(rank) != "0") return;  // the launcher says it, unless rank 0 said the same
    }
  }
  std::cerr << line << std::endl;
}

std::vector<std::string> without_nproc(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--nproc") {
      ++i;
      continue;
    }
    if (a.rfind("--nproc=", 0) == 0) continue;
    args.push_back(a);
  }
  return args;
}

int launch_local_workers(int nproc, const std::vector<std::string>& args, int timeout_seconds) {
  const RendezvousHost store("127.0.0.1", 0, nproc, std::chrono::seconds(timeout_seconds));
  World world;
  world.size = world.local_size = nproc;
  world.master_addr = "127.0.0.1";
  world.master_port = store.port();
  world.launcher = "gex";
  world.agent_store = true;
  struct sigaction forward {};
  forward.sa_handler = forward_signal;
  sigemptyset(&forward.sa_mask);
  struct sigaction stop {};
  stop.sa_handler = stop_job;
  sigemptyset(&stop.sa_mask);
  struct sigaction old_int {}, old_term {}, old_hup {}, old_tstp {}, old_cont {};
  g_workers.assign(nproc, 0);
  ::sigaction(SIGINT, &forward, &old_int);
  ::sigaction(SIGTERM, &forward, &old_term);
  ::sigaction(SIGTSTP, &stop, &old_tstp);
  ::sigaction(SIGCONT, &forward, &old_cont);
  ::sigaction(SIGHUP, nullptr, &old_hup);
  if (old_hup.sa_handler != SIG_IGN) ::sigaction(SIGHUP, &forward, nullptr);  // under nohup, workers ignore it too
  std::string errors = (std::filesystem::temp_directory_path() / "gex-workers-XXXXXX").string();
  if (!::mkdtemp(errors.data())) errors.clear();  // then every rank says its own on stderr
  if (!errors.empty()) ::setenv(kErrorsVariable, errors.c_str(), 1);
  for (int r = 0; r < nproc; ++r) {
    world.rank = world.local_rank = r;
    g_workers[r] = start_worker(args, world);
  }
  ::unsetenv(kErrorsVariable);
  std::vector<int> codes(nproc, -1);
  int running = nproc;
  std::chrono::steady_clock::time_point first_failure{};
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < nproc; ++r)
        if (g_workers[r] == pid) {
          codes[r] = status_code(status);
          g_workers[r] = 0;
          --running;
          if (codes[r] != 0 && codes[r] != kExitInterrupted && first_failure == decltype(first_failure){})
            first_failure = std::chrono::steady_clock::now();
        }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    // The others notice a lost worker within the timeout; past it (and a grace), they are stopped.
    if (first_failure != decltype(first_failure){} &&
        std::chrono::steady_clock::now() - first_failure > std::chrono::seconds(timeout_seconds + 30))
      forward_signal(SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  ::sigaction(SIGTSTP, &old_tstp, nullptr);
  ::sigaction(SIGCONT, &old_cont, nullptr);
  ::sigaction(SIGHUP, &old_hup, nullptr);
  if (!errors.empty()) {
    say_other_ranks_errors(errors, nproc);
    std::error_code ignored;
    std::filesystem::remove_all(errors, ignored);
  }
  int worst = 0;
  bool interrupted = false;
  for (int r = 0; r < nproc; ++r) {
    if (codes[r] == kExitInterrupted) interrupted = true;
    else if (codes[r] != 0) worst = std::max(worst, codes[r]);
    if (codes[r] != 0 && codes[r] != kExitInterrupted && codes[r] > 128)
      std::fprintf(stderr, "gex train: worker rank %d was killed by signal %d\n", r, codes[r] - 128);
  }
  if (worst != 0) return worst;
  return interrupted ? kExitInterrupted : kExitOk;
}

}  // namespace gex::cli
