// Steady-rate ingest with end-to-end latency: sends NDJSON batches of simulated events whose
// timestamps are the wall clock at sending, at a fixed events/s, over one keep-alive connection,
// and polls the query API to see when each request's events show up in the results; with --sse
// it also follows both metrics on a live stream (GET /api/v1/stream, Server-Sent Events) and
// measures when each request's events show up there.
//
//   weir_steady_load --port 18080 --rate 100000 --batch 1000 --seconds 30
//                    --early-metric early --final-metric final --final-window-ms 100 [--sse]
//
// The pipeline it talks to (bench/http/latency.yaml) has two count() metrics without grouping:
//  - `early`: a 1-minute tumbling window with `emit: { early: 100ms }`; a request is visible once
//    the window's row counts at least all events sent so far in that window (one connection,
//    requests in order, so that means this request's events are in);
//  - `final`: a short tumbling window with watermark 0; a request is visible once the final row
//    of its window is there (which also waits for the window to end).
// Latencies are measured from the moment a request starts being sent. Resolution: the poll
// interval plus one query round trip (the time a poll's answer arrives is used). Via SSE the same
// two conditions are applied to the rows of the stream's update messages, each timed when its
// event block has been read; every row is logged and matched after the run, so there is no race
// between the stream and the sender's bookkeeping. --poll-ms 0 turns polling off. Prints
// "key value" lines for scripts/bench-ingest and scripts/bench-serving.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "weir/base/time.h"
#include "weir/server/http_client.h"
#include "weir/simulate/simulator.h"

namespace {

using weir::Timestamp;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Sent {
  int64_t send_us = 0, ack_us = 0;
  Timestamp ts = 0;                     // event time of every event in the request
  Timestamp early_window = 0, final_window = 0;
  int64_t early_cum = 0;                // events sent so far in its early window, this one's included
  int64_t early_seen_us = -1, final_seen_us = -1;
  bool measured = false;                // sent after the warm-up
};

// window_start (ms) -> the row's `n`, parsed from {"rows":[{...,"window_start":"ISO",...,"n":123,...}]}.
std::map<Timestamp, int64_t> ParseRows(const std::string& body) {
  std::map<Timestamp, int64_t> out;
  size_t at = 0;
  const std::string ws = "\"window_start\":\"", nk = "\"n\":";
  while ((at = body.find(ws, at)) != std::string::npos) {
    at += ws.size();
    size_t end = body.find('"', at);
    if (end == std::string::npos) break;
    auto t = weir::ParseIso8601(std::string_view(body).substr(at, end - at));
    size_t n_at = body.find(nk, end);
    size_t next = body.find(ws, end);
    if (!t || n_at == std::string::npos || (next != std::string::npos && n_at > next)) continue;
    out[*t] = std::strtoll(body.c_str() + n_at + nk.size(), nullptr, 10);
    at = end;
  }
  return out;
}

// One result row seen on the SSE stream: when its event block was read, which metric, window, `n`.
struct SseRow {
  int64_t seen_us = 0;
  bool early = false;
  Timestamp window = 0;
  int64_t n = 0;
};

// The rows of one SSE event block (an update carries one row, a snapshot several).
void ParseSseBlock(const std::string& block, int64_t seen_us, const std::string& early_metric,
                   const std::string& final_metric, std::vector<SseRow>& out) {
  size_t data = block.find("data: ");
  if (data == std::string::npos) return;
  const std::string mk = "\"metric\":\"";
  size_t m = block.find(mk, data);
  if (m == std::string::npos) return;
  m += mk.size();
  std::string metric = block.substr(m, block.find('"', m) - m);
  bool early = metric == early_metric;
  if (!early && (metric != final_metric || final_metric.empty())) return;
  for (const auto& [window, n] : ParseRows(block.substr(data))) out.push_back({seen_us, early, window, n});
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
  size_t n = 0;
};

Percentiles Summarize(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))]; };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = v.back();
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", path = "/api/v1/events", early_metric = "early", final_metric = "final";
  int port = 0;
  double rate = 100000, seconds = 30, warmup = 5;
  int batch = 1000, poll_ms = 5;
  double jitter_ms = 0;
  bool sse = false;
  int64_t early_window_ms = 60000, final_window_ms = 100;
  CLI::App app{"Steady NDJSON load with ingest-to-result latency"};
  app.add_option("--host", host)->capture_default_str();
  app.add_option("--port", port)->required();
  app.add_option("--path", path)->capture_default_str();
  app.add_option("--rate", rate, "events per second")->capture_default_str();
  app.add_option("--batch", batch, "events per request")->capture_default_str();
  app.add_option("--seconds", seconds, "measured duration")->capture_default_str();
  app.add_option("--warmup", warmup, "seconds sent before measuring")->capture_default_str();
  app.add_option("--poll-ms", poll_ms, "query poll interval (0: no polling)")->capture_default_str();
  app.add_flag("--sse", sse, "also measure via the SSE stream /api/v1/stream?metrics=EARLY,FINAL");
  app.add_option("--jitter-ms", jitter_ms,
                 "delay each request by a random 0..J ms after its slot (so that a low rate does not always "
                 "land on the same phase of the pipeline's timer)")
      ->capture_default_str();
  app.add_option("--early-metric", early_metric)->capture_default_str();
  app.add_option("--early-window-ms", early_window_ms)->capture_default_str();
  app.add_option("--final-metric", final_metric, "empty: not polled")->capture_default_str();
  app.add_option("--final-window-ms", final_window_ms)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // One body of `batch` realistic events; only the timestamps change between requests, written
  // in place (every ISO-8601 timestamp of the simulator has the same 24 characters).
  weir::simulate::Options so;
  so.seed = 7;
  so.params["user_agents"] = "short";
  auto scenario = weir::simulate::MakeScenario("ecommerce", so);
  if (!scenario) {
    std::fprintf(stderr, "error: %s\n", scenario.error().message.c_str());
    return 1;
  }
  std::string body;
  (*scenario)->NextLines(body, static_cast<size_t>(batch));
  std::vector<size_t> ts_offsets;
  const std::string tk = "\"timestamp\":\"";
  for (size_t at = 0; (at = body.find(tk, at)) != std::string::npos; at += tk.size()) {
    if (at + tk.size() + 24 >= body.size() || body[at + tk.size() + 24] != '"') {
      std::fprintf(stderr, "error: unexpected timestamp shape at byte %zu\n", at);
      return 1;
    }
    ts_offsets.push_back(at + tk.size());
  }
  if (ts_offsets.size() != static_cast<size_t>(batch)) {
    std::fprintf(stderr, "error: found %zu timestamps in %d events\n", ts_offsets.size(), batch);
    return 1;
  }

  auto sender = weir::server::HttpClient::Connect(host, static_cast<uint16_t>(port));
  auto poller = weir::server::HttpClient::Connect(host, static_cast<uint16_t>(port));
  if (!sender || !poller) {
    std::fprintf(stderr, "error: cannot connect to %s:%d\n", host.c_str(), port);
    return 1;
  }
  const bool polling = poll_ms > 0;

  // The SSE stream is opened (and its first snapshots read) before anything is sent.
  std::mutex sse_mu;
  std::vector<SseRow> sse_rows;               // every row read from the stream, in order
  std::map<Timestamp, int64_t> sse_early_max;  // early window -> highest n seen so far
  std::map<Timestamp, bool> sse_final_seen;    // final windows seen
  int64_t sse_events = 0;
  std::string sse_error;
  std::atomic<bool> sse_stop{false};
  std::thread sse_thread;
  if (sse) {
    std::string target = "/api/v1/stream?metrics=" + early_metric + (final_metric.empty() ? "" : "," + final_metric);
    auto c = weir::server::HttpClient::Connect(host, static_cast<uint16_t>(port));
    if (!c) {
      std::fprintf(stderr, "error: cannot connect to %s:%d\n", host.c_str(), port);
      return 1;
    }
    auto head = (*c)->StartStream("GET", target);
    if (!head || head->status != 200) {
      std::fprintf(stderr, "error: cannot open %s: %s\n", target.c_str(),
                   head ? head->body.c_str() : head.error().message.c_str());
      return 1;
    }
    sse_thread = std::thread([&, stream = std::move(*c)] {
      std::vector<SseRow> rows;
      while (!sse_stop) {
        int64_t asked = NowMicros();
        auto block = stream->ReadEvent(std::chrono::milliseconds(200));
        int64_t seen = NowMicros();
        if (!block) {
          // A timeout leaves the stream usable; anything quicker is a broken connection.
          if (seen - asked < 150'000) {
            std::lock_guard lock(sse_mu);
            sse_error = block.error().message;
            return;
          }
          continue;
        }
        if (!block->has_value()) {
          std::lock_guard lock(sse_mu);
          sse_error = "the stream ended";
          return;
        }
        rows.clear();
        ParseSseBlock(**block, seen, early_metric, final_metric, rows);
        std::lock_guard lock(sse_mu);
        ++sse_events;
        for (const SseRow& r : rows) {
          sse_rows.push_back(r);
          if (r.early) sse_early_max[r.window] = std::max(sse_early_max[r.window], r.n);
          else sse_final_seen[r.window] = true;
        }
      }
    });
  }

  std::mutex mu;
  std::vector<Sent> sent;
  sent.reserve(static_cast<size_t>((seconds + warmup) * rate / batch) + 16);
  std::atomic<bool> sending{true};
  int64_t failures = 0;
  std::string first_failure;

  const int64_t interval_ns = static_cast<int64_t>(1e9 * batch / rate);
  const int64_t total = static_cast<int64_t>((seconds + warmup) * rate / batch);
  const int64_t warm = static_cast<int64_t>(warmup * rate / batch);
  int64_t start_us = 0, end_us = 0, behind = 0;

  std::thread send_thread([&] {
    std::map<Timestamp, int64_t> early_counts;
    const weir::server::HeaderList headers = {{"Content-Type", "application/x-ndjson"}};
    auto t0 = std::chrono::steady_clock::now();
    start_us = NowMicros();
    char iso[32];
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int64_t> jitter(0, static_cast<int64_t>(jitter_ms * 1e6));
    for (int64_t i = 0; i < total; ++i) {
      auto due = t0 + std::chrono::nanoseconds(i * interval_ns + (jitter_ms > 0 ? jitter(rng) : 0));
      if (std::chrono::steady_clock::now() > due + std::chrono::nanoseconds(interval_ns)) ++behind;
      std::this_thread::sleep_until(due);
      Sent s;
      s.ts = weir::NowMillis();
      weir::FormatIso8601To(s.ts, iso);
      for (size_t off : ts_offsets) body.replace(off, 24, iso, 24);
      s.early_window = weir::AlignDown(s.ts, early_window_ms);
      s.final_window = weir::AlignDown(s.ts, final_window_ms);
      s.early_cum = (early_counts[s.early_window] += batch);
      s.measured = i >= warm;
      s.send_us = NowMicros();
      auto r = (*sender)->Request("POST", path, body, headers);
      s.ack_us = NowMicros();
      std::lock_guard lock(mu);
      if (!r || r->status != 202) {
        if (failures++ == 0) first_failure = r ? fmt::format("{} {}", r->status, r->body) : r.error().message;
        // A refused request was not counted by weir: take it back out of the expected counts.
        early_counts[s.early_window] -= batch;
        continue;
      }
      sent.push_back(s);
    }
    end_us = NowMicros();
    // One more, unrecorded request after the last short window has ended, so that the
    // watermark passes it and its final row comes out too.
    std::this_thread::sleep_for(std::chrono::milliseconds(final_window_ms + 1));
    weir::FormatIso8601To(weir::NowMillis(), iso);
    for (size_t off : ts_offsets) body.replace(off, 24, iso, 24);
    (void)(*sender)->Request("POST", path, body, headers);
    sending = false;
  });

  // Poll until every request is seen in both metrics, or 10 s after the last one was sent.
  size_t early_next = 0, final_next = 0;
  int64_t polls = 0, poll_us_total = 0;
  while (true) {
    int64_t poll_start = NowMicros();
    size_t n;
    Timestamp oldest_early, oldest_final;
    {
      std::lock_guard lock(mu);
      n = sent.size();
      oldest_early = early_next < n ? sent[early_next].early_window : weir::AlignDown(weir::NowMillis(), early_window_ms);
      oldest_final = final_next < n ? sent[final_next].final_window : weir::AlignDown(weir::NowMillis(), final_window_ms);
    }
    if (polling && early_next < n) {
      auto r = (*poller)->Request("GET", fmt::format("/api/v1/metrics/{}?start={}", early_metric, oldest_early));
      int64_t seen = NowMicros();
      if (r && r->status == 200) {
        auto rows = ParseRows(r->body);
        std::lock_guard lock(mu);
        while (early_next < n) {
          auto it = rows.find(sent[early_next].early_window);
          if (it == rows.end() || it->second < sent[early_next].early_cum) break;
          sent[early_next++].early_seen_us = seen;
        }
      }
    }
    if (polling && !final_metric.empty() && final_next < n) {
      auto r = (*poller)->Request("GET", fmt::format("/api/v1/metrics/{}?start={}", final_metric, oldest_final));
      int64_t seen = NowMicros();
      if (r && r->status == 200) {
        auto rows = ParseRows(r->body);
        std::lock_guard lock(mu);
        while (final_next < n && rows.contains(sent[final_next].final_window))
          sent[final_next++].final_seen_us = seen;
      }
    }
    ++polls;
    poll_us_total += NowMicros() - poll_start;
    bool all_seen;
    {
      std::lock_guard lock(mu);
      all_seen = !polling || (early_next == sent.size() && (final_metric.empty() || final_next == sent.size()));
      if (sse && !sent.empty()) {
        // Rows come in order, so the last request seen means every request seen.
        const Sent& last = sent.back();
        std::lock_guard sse_lock(sse_mu);
        auto e = sse_early_max.find(last.early_window);
        all_seen = all_seen && e != sse_early_max.end() && e->second >= last.early_cum &&
                   (final_metric.empty() || sse_final_seen.contains(last.final_window));
        if (!sse_error.empty()) all_seen = true;  // nothing more will come
      }
    }
    if (!sending && (all_seen || NowMicros() - end_us > 10'000'000)) break;
    std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::microseconds(poll_start)) +
                                  std::chrono::milliseconds(polling ? poll_ms : 5));
  }
  send_thread.join();
  if (sse) {
    sse_stop = true;
    sse_thread.join();
  }

  // Via SSE: the first row of its early window counting all its events, the first row of its
  // final window. Within a window `n` only grows and requests go in order, so a cursor per window
  // finds the first matching row.
  std::vector<int64_t> sse_early_us(sent.size(), -1), sse_final_us(sent.size(), -1);
  if (sse) {
    std::map<Timestamp, std::vector<std::pair<int64_t, int64_t>>> early_rows;  // window -> (seen, n)
    std::map<Timestamp, int64_t> final_first;
    for (const SseRow& r : sse_rows) {
      if (r.early) early_rows[r.window].emplace_back(r.seen_us, r.n);
      else final_first.try_emplace(r.window, r.seen_us);
    }
    std::map<Timestamp, size_t> cursor;
    for (size_t i = 0; i < sent.size(); ++i) {
      auto rows = early_rows.find(sent[i].early_window);
      if (rows != early_rows.end()) {
        size_t& c = cursor[sent[i].early_window];
        while (c < rows->second.size() && rows->second[c].second < sent[i].early_cum) ++c;
        if (c < rows->second.size()) sse_early_us[i] = rows->second[c].first;
      }
      if (auto f = final_first.find(sent[i].final_window); f != final_first.end()) sse_final_us[i] = f->second;
    }
  }

  std::vector<double> ack, early, fin, fin_after_close, sse_early, sse_fin, sse_fin_after_close;
  int64_t measured_events = 0, unseen_early = 0, unseen_final = 0, sse_unseen_early = 0, sse_unseen_final = 0;
  int64_t first_measured_us = 0, last_measured_us = 0;
  for (size_t i = 0; i < sent.size(); ++i) {
    const Sent& s = sent[i];
    if (!s.measured) continue;
    if (sse) {
      if (sse_early_us[i] >= 0) sse_early.push_back((sse_early_us[i] - s.send_us) / 1000.0);
      else ++sse_unseen_early;
      if (!final_metric.empty()) {
        if (sse_final_us[i] >= 0) {
          sse_fin.push_back((sse_final_us[i] - s.send_us) / 1000.0);
          sse_fin_after_close.push_back((sse_final_us[i] - (s.final_window + final_window_ms) * 1000) / 1000.0);
        } else {
          ++sse_unseen_final;
        }
      }
    }
    if (!first_measured_us) first_measured_us = s.send_us;
    last_measured_us = s.ack_us;
    measured_events += batch;
    ack.push_back((s.ack_us - s.send_us) / 1000.0);
    if (!polling) continue;
    if (s.early_seen_us >= 0) early.push_back((s.early_seen_us - s.send_us) / 1000.0);
    else ++unseen_early;
    if (!final_metric.empty()) {
      if (s.final_seen_us >= 0) {
        fin.push_back((s.final_seen_us - s.send_us) / 1000.0);
        fin_after_close.push_back((s.final_seen_us - (s.final_window + final_window_ms) * 1000) / 1000.0);
      } else {
        ++unseen_final;
      }
    }
  }
  double span_s = (last_measured_us - first_measured_us) / 1e6;
  auto print = [](const char* name, const Percentiles& p) {
    std::printf("%s_ms p50=%.1f p99=%.1f max=%.1f n=%zu\n", name, p.p50, p.p99, p.max, p.n);
  };
  std::printf("requests %zu\n", sent.size());
  std::printf("failures %lld%s%s\n", static_cast<long long>(failures), failures ? " first: " : "",
              first_failure.c_str());
  std::printf("late_sends %lld\n", static_cast<long long>(behind));
  std::printf("measured_events %lld\n", static_cast<long long>(measured_events));
  std::printf("achieved_events_per_s %.0f\n", span_s > 0 ? measured_events / span_s : 0.0);
  std::printf("run_s %.1f\n", (end_us - start_us) / 1e6);
  std::printf("poll_rounds %lld avg_round_ms %.2f\n", static_cast<long long>(polls),
              polls ? poll_us_total / 1000.0 / static_cast<double>(polls) : 0.0);
  print("ack", Summarize(ack));
  if (polling) {
    print("early", Summarize(early));
    std::printf("early_unseen %lld\n", static_cast<long long>(unseen_early));
    if (!final_metric.empty()) {
      print("final", Summarize(fin));
      print("final_after_window_end", Summarize(fin_after_close));
      std::printf("final_unseen %lld\n", static_cast<long long>(unseen_final));
    }
  }
  if (sse) {
    std::printf("sse_events %lld rows %zu%s%s\n", static_cast<long long>(sse_events), sse_rows.size(),
                sse_error.empty() ? "" : " error: ", sse_error.c_str());
    print("sse_early", Summarize(sse_early));
    std::printf("sse_early_unseen %lld\n", static_cast<long long>(sse_unseen_early));
    if (!final_metric.empty()) {
      print("sse_final", Summarize(sse_fin));
      print("sse_final_after_window_end", Summarize(sse_fin_after_close));
      std::printf("sse_final_unseen %lld\n", static_cast<long long>(sse_unseen_final));
    }
  }
  return failures || !sse_error.empty() ? 1 : 0;
}
