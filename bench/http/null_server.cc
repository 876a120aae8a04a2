// The ceiling of Weir's HTTP server: weir::server::HttpServer with one route that answers every
// POST with 204 and does nothing else (no decoding, no log, no pipeline). scripts/bench-ingest
// runs wrk against it to separate the cost of the server from the cost of ingest.
//
//   weir_null_server --listen 127.0.0.1:18081 [--threads 1] [--path /api/v1/events] [--port-file F]
//
// Runs until SIGINT or SIGTERM.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>

#include "weir/server/http_server.h"

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:18081";
  std::string path = "/api/v1/events";
  std::string port_file;
  int threads = 1;
  CLI::App app{"HTTP server answering 204 to every POST on one path (benchmark ceiling)"};
  app.add_option("--listen", listen, "host:port (port 0 picks a free one)")->capture_default_str();
  app.add_option("--path", path, "route answered with 204")->capture_default_str();
  app.add_option("--threads", threads, "IO threads")->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound port here once listening");
  CLI11_PARSE(app, argc, argv);

  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "--listen: expected host:port, found '%s'\n", listen.c_str());
    return 2;
  }
  weir::server::ServerOptions options;
  options.host = listen.substr(0, colon);
  options.port = static_cast<uint16_t>(std::atoi(listen.c_str() + colon + 1));
  options.threads = threads;

  // Block the stop signals before any thread starts so that only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = weir::server::HttpServer::Make(options);
  if (!server) {
    std::fprintf(stderr, "error: %s\n", server.error().message.c_str());
    return 1;
  }
  auto answer = [](weir::server::Request&) {
    weir::server::Response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  };
  if (auto st = (*server)->Route("POST", path, weir::server::SyncHandler(answer)); !st) {
    std::fprintf(stderr, "error: %s\n", st.error().message.c_str());
    return 1;
  }
  if (auto st = (*server)->Start(); !st) {
    std::fprintf(stderr, "error: %s\n", st.error().message.c_str());
    return 1;
  }
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << (*server)->port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  int sig = 0;
  sigwait(&signals, &sig);
  (*server)->Stop();
  auto stats = (*server)->stats();
  std::fprintf(stderr, "null server: %llu requests, %llu connections\n",
               static_cast<unsigned long long>(stats.requests),
               static_cast<unsigned long long>(stats.connections_accepted));
  return 0;
}
