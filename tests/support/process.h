// Running the weir binary (or a server) as a child process in tests.
//
//   Process p = Process::Spawn({WEIR_BINARY, "run", "pipeline.yaml"}, {{"OUT_DIR", dir}}, dir + "/stderr.log");
//   int code = p.Wait(std::chrono::seconds(30));   // -1 on timeout (the child is killed)
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace weir::testing {

/// A child process; killed (SIGKILL) on destruction if still running.
class Process {
 public:
  static Process Spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                       const std::string& stderr_path = "", const std::string& stdout_path = "") {
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
      std::string kv(*e);
      if (!env.count(kv.substr(0, kv.find('=')))) envs.push_back(kv);
    }
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (!stderr_path.empty())
      posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!stdout_path.empty())
      posix_spawn_file_actions_addopen(&fa, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    Process p;
    if (posix_spawn(&p.pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data()) != 0) p.pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    return p;
  }

  Process() = default;
  Process(Process&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  Process& operator=(Process&& o) noexcept {
    Kill();
    pid_ = std::exchange(o.pid_, -1);
    return *this;
  }
  ~Process() { Kill(); }

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  /// Waits for exit; returns the exit code, 128+signal if killed by a signal, -1 on timeout
  /// (after which the child is killed).
  int Wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        return -1;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        Kill();
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1;
  }

  void Signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

/// `weir run DIR/pipeline.yaml --listen 127.0.0.1:0` with its data in `data` and its log in
/// DIR/weir.log, once it has written its port file (up to 10 s); port 0 if it never did.
struct RunningWeir {
  Process proc;
  uint16_t port = 0;
};
inline RunningWeir StartWeir(const std::filesystem::path& dir, const std::filesystem::path& data) {
  namespace fs = std::filesystem;
  fs::remove(dir / "port");
  RunningWeir w;
  w.proc = Process::Spawn({WEIR_BINARY, "run", (dir / "pipeline.yaml").string(), "--listen", "127.0.0.1:0",
                           "--port-file", (dir / "port").string(), "--data-dir", data.string()},
                          {}, (dir / "weir.log").string());
  for (int i = 0; i < 1000 && !fs::exists(dir / "port"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (fs::exists(dir / "port")) w.port = static_cast<uint16_t>(std::stoi(ReadFile((dir / "port").string())));
  return w;
}

}  // namespace weir::testing
