#include "weir/cli/cli.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "weir/base/log.h"
#include "weir/connectors/connectors.h"
#include "weir/operators/processors.h"
#include "weir/runtime/pipeline.h"
#include "weir/server/api.h"
#include "weir/server/http_server.h"
#include "weir/server/live_routes.h"
#include "weir/simulate/simulator.h"
#include "weir/spec/spec.h"
#include "weir/store/result_store.h"

namespace weir::cli {
namespace {

constexpr const char* kVersion = "0.1.0";

runtime::Registry MakeRegistry() {
  runtime::Registry r;
  operators::RegisterOperators(r);
  connectors::RegisterConnectors(r);
  return r;
}

/// The diagnostics of loading (the first `loaded` of `all`) and planning, in file order. A
/// planning diagnostic at the very place of a loading error is left out: it follows from that
/// error (a `config:` that is not a map, a filter whose `where` is missing) and says it again.
spec::Diagnostics MergeStages(const spec::Diagnostics& all, size_t loaded) {
  auto place = [](const spec::Diagnostic& d) { return std::pair(d.location.line, d.location.column); };
  std::set<std::pair<int, int>> load_errors;
  for (size_t i = 0; i < loaded; ++i)
    if (!all.all()[i].warning && all.all()[i].location.line > 0) load_errors.insert(place(all.all()[i]));
  std::vector<spec::Diagnostic> items;
  for (size_t i = 0; i < all.all().size(); ++i)
    if (i < loaded || !load_errors.contains(place(all.all()[i]))) items.push_back(all.all()[i]);
  std::stable_sort(items.begin(), items.end(),
                   [&](const spec::Diagnostic& a, const spec::Diagnostic& b) { return place(a) < place(b); });
  spec::Diagnostics merged;
  for (spec::Diagnostic& d : items) {
    if (d.warning)
      merged.Warning(d.location, std::move(d.message));
    else
      merged.Error(d.location, std::move(d.message));
  }
  return merged;
}

/// Loads and plans a pipeline; prints every problem to stderr. nullptr on any error.
/// Planning runs even when loading found errors (on what did load), so that one run reports the
/// errors of both: a bad `watermark:` does not hide an expression error or an unknown type.
std::unique_ptr<runtime::Pipeline> LoadPipeline(const std::string& path, const runtime::PipelineOptions& options,
                                                const runtime::Registry& registry, spec::Pipeline& spec_out) {
  spec::Diagnostics diags;
  auto spec = spec::LoadFile(path, diags);
  const size_t loaded = diags.all().size();
  std::unique_ptr<runtime::Pipeline> pipeline;
  if (spec) {  // nullopt only when the file is unreadable or not YAML: nothing to plan
    spec_out = *spec;
    pipeline = runtime::Pipeline::Plan(spec_out, registry, options, diags);
  }
  if (diags.all().size() > loaded) diags = MergeStages(diags, loaded);
  if (!diags.all().empty()) std::cerr << diags.Format();
  if (!diags.ok()) {
    std::cerr << fmt::format("{}: {} error{}\n", path, diags.error_count(), diags.error_count() == 1 ? "" : "s");
    return nullptr;
  }
  return pipeline;
}

int Validate(const std::string& path) {
  auto registry = MakeRegistry();
  spec::Pipeline spec;
  auto pipeline = LoadPipeline(path, {}, registry, spec);
  if (!pipeline) return 1;
  std::cout << fmt::format("{}: ok (pipeline '{}': {} source{}, {} processor{}, {} metric{}, {} sink{})\n", path,
                           spec.name, spec.sources.size(), spec.sources.size() == 1 ? "" : "s", spec.processors.size(),
                           spec.processors.size() == 1 ? "" : "s", spec.metrics.size(),
                           spec.metrics.size() == 1 ? "" : "s", spec.sinks.size(), spec.sinks.size() == 1 ? "" : "s");
  return 0;
}

struct RunOptions {
  std::string pipeline;
  std::string listen;
  std::string data_dir;
  std::string web_dir;
  std::string port_file;
  size_t live_ring_rows = 10000;
  size_t workers = std::max(1u, std::thread::hardware_concurrency());
};

int Run(const RunOptions& o) {
  // Signals are taken by a dedicated thread (sigwait), so block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto registry = MakeRegistry();
  spec::Pipeline spec;
  runtime::PipelineOptions options;
  options.data_dir = o.data_dir;
  options.workers = o.workers;
  auto pipeline = LoadPipeline(o.pipeline, options, registry, spec);
  if (!pipeline) return 2;

  std::string host = spec.server.host;
  uint16_t port = spec.server.port;
  if (!o.listen.empty()) {
    auto l = spec::ParseListen(o.listen);
    if (!l) {
      std::cerr << "--listen: " << l.error().message << "\n";
      return 2;
    }
    std::tie(host, port) = *l;
  }

  std::unique_ptr<server::LiveHub> live;  // declared before http: outlives the server's streams
  std::unique_ptr<server::ApiWorkers> api_workers;
  std::unique_ptr<server::HttpServer> http;
  if (spec.server.enabled) {
    api_workers = std::make_unique<server::ApiWorkers>(2);
    auto made = server::HttpServer::Make({.host = host, .port = port});
    if (!made) {
      std::cerr << "error: " << made.error().message << "\n";
      return 1;
    }
    http = std::move(*made);
    if (auto st = server::RegisterApi(
            *http, *pipeline, [&live] { return live ? live->subscribers() : uint64_t{0}; }, api_workers.get());
        !st) {
      std::cerr << "error: " << st.error().message << "\n";
      return 2;
    }
    live = std::make_unique<server::LiveHub>(pipeline->metric_schemas(),
                                             server::LiveOptions{.ring_rows = o.live_ring_rows});
    pipeline->AddResultListener(live.get());
    if (auto st = server::RegisterLiveRoutes(*http, *live, *pipeline); !st) {
      std::cerr << "error: " << st.error().message << "\n";
      return 2;
    }
    if (!o.web_dir.empty()) {
      if (auto st = http->ServeStatic("/", o.web_dir); !st) WEIR_LOG_WARN("dashboard: {}", st.error().message);
    }
  }

  if (auto st = pipeline->Start(); !st) {
    std::cerr << "error: " << st.error().message << "\n";
    return 1;
  }
  if (http) {
    if (auto st = http->Start(); !st) {
      std::cerr << "error: " << st.error().message << "\n";
      pipeline->Stop();
      return 1;
    }
  }

  // Once every source takes input (logs replayed), the port file is written and the URLs printed:
  // a script that waits for the port file can send at once.
  std::atomic<bool> finished{false};
  std::thread announcer;
  if (http) {
    announcer = std::thread([&] {
      while (!pipeline->Ready() && !finished && !pipeline->failure())
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (finished || pipeline->failure()) return;
      std::string base = fmt::format("http://{}:{}", host, http->port());
      if (!o.port_file.empty()) {
        // Written whole, then renamed: a reader never sees a partial number.
        std::string tmp = o.port_file + ".tmp";
        std::ofstream(tmp) << http->port() << "\n";
        std::rename(tmp.c_str(), o.port_file.c_str());
      }
      WEIR_LOG_INFO("pipeline '{}' running; API on {}", spec.name, base);
      std::cerr << fmt::format(
          "\nWeir is running pipeline '{}'.\n"
          "  health      {}/health\n"
          "  status      {}/api/v1/status\n"
          "  metrics     {}/api/v1/metrics\n",
          spec.name, base, base, base);
      for (const MetricSchema* m : pipeline->metric_schemas())
        std::cerr << fmt::format("              {}/api/v1/metrics/{}\n", base, m->id);
      for (auto* ep : pipeline->ingest_endpoints())
        std::cerr << fmt::format(
            "  ingest      curl -X POST {}{} -H 'Content-Type: application/json' \\\n"
            "                -d "
            "'{{\"event_type\":\"page_view\",\"timestamp\":\"{}\",\"properties\":{{\"country\":\"US\"}}}}'\n",
            base, ep->path(), FormatIso8601(NowMillis()));
      std::cerr << "Press Ctrl-C to stop.\n\n";
    });
  }

  // Wait for: a signal, the end of every bounded input, or a fatal pipeline error.
  std::thread waiter;
  if (pipeline->bounded()) {
    waiter = std::thread([&] {
      pipeline->WaitUntilDone();
      if (!finished.exchange(true)) kill(getpid(), SIGTERM);  // wakes sigwait below
    });
  } else {
    waiter = std::thread([&] {
      pipeline->WaitUntilDone();  // returns on failure
      if (!finished.exchange(true)) kill(getpid(), SIGTERM);
    });
  }
  int sig = 0;
  sigwait(&signals, &sig);
  if (!finished) WEIR_LOG_INFO("received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  finished = true;
  if (announcer.joinable()) announcer.join();
  if (http) http->Stop(std::chrono::seconds(5));
  if (api_workers) api_workers->Stop();  // no query reads the store once the pipeline stops
  pipeline->Stop();
  waiter.join();
  if (auto f = pipeline->failure()) {
    std::cerr << "error: " << f->message << "\n";
    return 1;
  }
  return 0;
}

struct BenchOptions {
  std::string pipeline;
  std::string input;
  std::string data_dir;
  size_t workers = 1;
};

/// Runs a bounded pipeline over one input file into a scratch store and reports how fast:
/// events, wall and CPU seconds, events/s and per CPU-second, peak RSS, result rows per metric.
/// The pipeline reads the file through `${BENCH_INPUT}` (bench/queries/*.yaml).
int Bench(const BenchOptions& o) {
  std::error_code ec;
  const std::string input = std::filesystem::absolute(o.input, ec).string();
  const auto input_bytes = std::filesystem::file_size(input, ec);
  if (ec) {
    std::cerr << "error: --input " << o.input << ": " << ec.message() << "\n";
    return 2;
  }
  ::setenv("BENCH_INPUT", input.c_str(), 1);
  std::string dir = o.data_dir;
  const bool scratch = dir.empty();
  if (scratch) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "weir-bench-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
      std::cerr << "error: cannot create a scratch data directory: " << std::strerror(errno) << "\n";
      return 1;
    }
    dir = tmpl;
  }
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ignored;
      if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{scratch ? dir : std::string()};

  auto registry = MakeRegistry();
  spec::Pipeline spec;
  runtime::PipelineOptions options;
  options.data_dir = dir;
  options.workers = o.workers;
  auto pipeline = LoadPipeline(o.pipeline, options, registry, spec);
  if (!pipeline) return 2;
  if (!pipeline->bounded()) {
    std::cerr
        << "error: " << o.pipeline
        << ": weir bench needs every source to be bounded (a file reading ${BENCH_INPUT}), so that the run ends\n";
    return 2;
  }
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  rusage before{}, after{};
  ::getrusage(RUSAGE_SELF, &before);
  const int64_t started = MonotonicNanos();
  if (auto st = pipeline->Start(); !st) {
    std::cerr << "error: " << st.error().message << "\n";
    return 1;
  }
  pipeline->WaitUntilDone();
  pipeline->Stop();
  const double wall = static_cast<double>(MonotonicNanos() - started) / 1e9;
  ::getrusage(RUSAGE_SELF, &after);
  if (auto f = pipeline->failure()) {
    std::cerr << "error: " << f->message << "\n";
    return 1;
  }
  const uint64_t events = pipeline->accepted_events();
  std::vector<std::string> metric_ids;
  for (const MetricSchema* m : pipeline->metric_schemas()) metric_ids.push_back(m->id);
  pipeline.reset();  // closes the store

  const double user = seconds(after.ru_utime) - seconds(before.ru_utime);
  const double system = seconds(after.ru_stime) - seconds(before.ru_stime);
  const double cpu = user + system;
  std::cout << fmt::format("pipeline      {} ({}), {} worker{}\n", spec.name, o.pipeline, o.workers,
                           o.workers == 1 ? "" : "s");
  std::cout << fmt::format("input         {} ({:.1f} MB)\n", input, static_cast<double>(input_bytes) / 1e6);
  std::cout << fmt::format("events        {}\n", events);
  std::cout << fmt::format("wall          {:.2f} s\n", wall);
  std::cout << fmt::format("CPU           {:.2f} s (user {:.2f}, system {:.2f})\n", cpu, user, system);
  std::cout << fmt::format("events/s      {:.0f}\n", wall > 0 ? static_cast<double>(events) / wall : 0.0);
  std::cout << fmt::format("events/CPU-s  {:.0f}\n", cpu > 0 ? static_cast<double>(events) / cpu : 0.0);
  std::cout << fmt::format("peak RSS      {:.1f} MB\n", static_cast<double>(after.ru_maxrss) / 1024.0);
  auto store = store::ResultStore::Open((std::filesystem::path(dir) / "results").string(), true);
  if (!store) {
    std::cerr << "error: " << store.error().message << "\n";
    return 1;
  }
  for (const std::string& id : metric_ids) {
    store::ResultQuery q;
    q.metric = id;
    q.limit = std::numeric_limits<size_t>::max();
    auto rows = (*store)->Query(q);
    if (!rows) {
      std::cerr << "error: " << rows.error().message << "\n";
      return 1;
    }
    std::cout << fmt::format("result rows   {} {}\n", id, rows->rows.size());
  }
  return 0;
}

struct SimulateOptions {
  std::string scenario = "ecommerce";
  uint64_t count = 1000;
  uint64_t seed = 1;
  double rate = 0;
  std::string start;
  std::string format = "ndjson";
  std::string output;
  std::string disorder = "3s";
  std::vector<std::string> params;
};

int Simulate(const SimulateOptions& o) {
  simulate::Options opt;
  opt.seed = o.seed;
  if (!o.start.empty()) {
    auto t = ParseIso8601(o.start);
    if (!t) {
      std::cerr << "--start: expected an ISO-8601 time, found '" << o.start << "'\n";
      return 2;
    }
    opt.start_time = *t;
  }
  auto d = ParseDuration(o.disorder);
  if (!d) {
    std::cerr << "--max-disorder: " << d.error().message << "\n";
    return 2;
  }
  opt.max_disorder = *d;
  for (const auto& p : o.params) {
    size_t eq = p.find('=');
    if (eq == std::string::npos) {
      std::cerr << "--param: expected NAME=VALUE, found '" << p << "'\n";
      return 2;
    }
    opt.params[p.substr(0, eq)] = p.substr(eq + 1);
  }
  if (o.rate > 0) opt.events_per_second_of_event_time = o.rate;
  auto scenario = simulate::MakeScenario(o.scenario, opt);
  if (!scenario) {
    std::cerr << "error: " << scenario.error().message << "\n";
    return 2;
  }
  FILE* out = stdout;
  if (!o.output.empty() && o.output != "-") {
    out = std::fopen(o.output.c_str(), "wb");
    if (!out) {
      std::cerr << "error: cannot write " << o.output << ": " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  std::string buf;
  buf.reserve(1 << 20);
  uint64_t left = o.count;
  while (left > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, 2048));
    buf.clear();
    (*scenario)->NextLines(buf, n);
    if (std::fwrite(buf.data(), 1, buf.size(), out) != buf.size()) {
      std::cerr << "error: write failed: " << std::strerror(errno) << "\n";
      return 1;
    }
    left -= n;
  }
  if (out != stdout)
    std::fclose(out);
  else
    std::fflush(stdout);
  return 0;
}

struct QueryOptions {
  std::string data_dir;
  std::string metric;
  std::string start, end;
  size_t limit = 1000000;
  bool late = false;
  std::vector<std::string> keys;
};

int Query(const QueryOptions& o) {
  auto store = store::ResultStore::Open((std::filesystem::path(o.data_dir) / "results").string(), true);
  if (!store) {
    std::cerr << "error: " << store.error().message << "\n";
    return 1;
  }
  Timestamp now = NowMillis();
  store::ResultQuery q;
  q.metric = o.metric;
  q.limit = o.limit;
  for (auto [text, field] : {std::pair{&o.start, &q.start}, std::pair{&o.end, &q.end}}) {
    if (text->empty()) continue;
    auto t = server::ParseTimeParam(*text, now);
    if (!t) {
      std::cerr << "error: " << t.error().message << "\n";
      return 2;
    }
    *field = *t;
  }
  for (const auto& kv : o.keys) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << "error: --key expects NAME=VALUE, found '" << kv << "'\n";
      return 2;
    }
    q.filters.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  auto known = (*store)->Metrics();
  if (std::find(known.begin(), known.end(), o.metric) == known.end()) {
    std::string list;
    for (const auto& m : known) list += (list.empty() ? "" : ", ") + m;
    std::cerr << "error: no metric '" << o.metric << "' in " << o.data_dir
              << " (metrics: " << (list.empty() ? "none" : list) << ")\n";
    return 1;
  }
  auto rows = o.late ? (*store)->QueryLate(o.metric, q.start, q.end, q.limit) : (*store)->Query(q);
  if (!rows) {
    std::cerr << "error: " << rows.error().message << "\n";
    return 1;
  }
  for (const auto& r : rows->rows) std::cout << r << "\n";
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"Weir: real-time stream analytics in one program, declared in one YAML file"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->envname("WEIR_LOG");

  RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "Run a pipeline");
  run_cmd->add_option("pipeline", run.pipeline, "Pipeline file (YAML)")->required()->check(CLI::ExistingFile);
  run_cmd->add_option("--listen", run.listen, "HTTP address, e.g. 127.0.0.1:8080 (overrides spec.server.listen)");
  run_cmd->add_option("--data-dir", run.data_dir, "Directory for durable state (default .weir/<pipeline name>)");
  run_cmd->add_option("--web-dir", run.web_dir, "Directory of dashboard files served at /");
  run_cmd->add_option("--port-file", run.port_file,
                      "Write the HTTP port here once listening (for scripts, --listen :0)");
  run_cmd
      ->add_option("--live-ring-rows", run.live_ring_rows, "Result rows kept per metric for live clients that resume")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100000000}));
  run_cmd
      ->add_option("--workers", run.workers,
                   "Threads that decode, evaluate and aggregate batches in parallel, each metric's state partitioned "
                   "among them by group key (results do not depend on it)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));

  std::string validate_path;
  auto* validate_cmd = app.add_subcommand("validate", "Check a pipeline file and report every error");
  validate_cmd->add_option("pipeline", validate_path, "Pipeline file (YAML)")->required()->check(CLI::ExistingFile);

  SimulateOptions sim;
  auto* sim_cmd = app.add_subcommand("simulate", "Write generated events as NDJSON");
  sim_cmd->add_option("--scenario", sim.scenario, "ecommerce, campaigns or orders")->capture_default_str();
  sim_cmd->add_option("--count,-n", sim.count, "Number of events")->capture_default_str();
  sim_cmd->add_option("--seed", sim.seed, "Random seed (same seed, same events)")->capture_default_str();
  sim_cmd->add_option("--rate", sim.rate, "Events per second of event time (default 1000)");
  sim_cmd->add_option("--start", sim.start, "Event time of the first event (ISO-8601)");
  sim_cmd->add_option("--max-disorder", sim.disorder, "How far timestamps may run backwards")->capture_default_str();
  sim_cmd->add_option("--format", sim.format, "Output format")->check(CLI::IsMember({"ndjson"}))->capture_default_str();
  sim_cmd->add_option("--output,-o", sim.output, "Output file (default stdout)");
  sim_cmd->add_option("--param", sim.params, "Scenario parameter NAME=VALUE (repeatable)");

  QueryOptions query;
  auto* query_cmd = app.add_subcommand("query", "Print a metric's stored results as NDJSON (works while weir runs)");
  query_cmd->add_option("--data-dir", query.data_dir, "The pipeline's data directory")->required();
  query_cmd->add_option("metric", query.metric, "Metric id")->required();
  query_cmd->add_option("--start", query.start, "Windows starting at or after (ISO-8601, epoch ms, -1h)");
  query_cmd->add_option("--end", query.end, "Windows starting before");
  query_cmd->add_option("--limit", query.limit, "At most this many rows");
  query_cmd->add_option("--key", query.keys, "Group-key filter NAME=VALUE (repeatable)");
  query_cmd->add_flag("--late", query.late, "Print the metric's late records instead");

  BenchOptions bench;
  auto* bench_cmd = app.add_subcommand(
      "bench", "Run a bounded pipeline over one input file into a scratch store and report its speed");
  bench_cmd->add_option("pipeline", bench.pipeline, "Pipeline file (YAML) whose sources read ${BENCH_INPUT}")
      ->required()
      ->check(CLI::ExistingFile);
  bench_cmd->add_option("--input", bench.input, "The NDJSON file (set as BENCH_INPUT)")
      ->required()
      ->check(CLI::ExistingFile);
  bench_cmd->add_option("--workers", bench.workers, "Threads decoding and applying batches")->capture_default_str();
  bench_cmd->add_option("--data-dir", bench.data_dir, "Keep the results here (default: a scratch directory, removed)");

  app.add_subcommand("version", "Print the version")->callback([] { std::cout << "weir " << kVersion << "\n"; });

  CLI11_PARSE(app, argc, argv);
  InitLogging(log_level);
  if (*run_cmd) return Run(run);
  if (*validate_cmd) return Validate(validate_path);
  if (*sim_cmd) return Simulate(sim);
  if (*query_cmd) return Query(query);
  if (*bench_cmd) return Bench(bench);
  return 0;
}

}  // namespace weir::cli
