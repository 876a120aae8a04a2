#include "weir/connectors/sources/simulator_source.h"

#include <thread>

#include <fmt/format.h>

#include "weir/simulate/pacer.h"
#include "weir/simulate/simulator.h"

namespace weir::connectors {
namespace {

class SimulatorSource final : public runtime::Source {
 public:
  SimulatorSource(std::unique_ptr<simulate::Scenario> scenario, double rate, uint64_t count, size_t batch_size,
                  bool changes)
      : scenario_(std::move(scenario)), rate_(rate), count_(count), batch_size_(batch_size), changes_(changes) {}
  ~SimulatorSource() override { Stop(); }

  Status Start(runtime::SourceContext& ctx) override {
    ctx_ = &ctx;
    // Resume after what the restored checkpoint covers: the stream is deterministic, so
    // generating and dropping the events already processed puts it where it was.
    if (auto pos = ctx.RestoredPosition(0); pos && *pos > 0) {
      std::string skip;
      for (int64_t left = *pos; left > 0;) {
        size_t n = static_cast<size_t>(std::min<int64_t>(left, 4096));
        skip.clear();
        scenario_->NextLines(skip, n);
        left -= static_cast<int64_t>(n);
      }
      generated_ = static_cast<uint64_t>(*pos);
    }
    thread_ = std::thread([this] { Run(); });
    return Ok();
  }
  void Stop() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool bounded() const override { return count_ > 0; }
  bool may_retract() const override { return changes_; }
  std::string StatusJson() const override {
    std::string s = ",\"scenario\":";
    AppendJsonString(s, scenario_->name());
    s += fmt::format(",\"rate\":{},\"generated\":{}", rate_, generated_.load());
    return s;
  }

 private:
  void Run() {
    simulate::Pacer pacer(rate_, batch_size_);
    std::string text;
    while (!stop_) {
      size_t n = pacer.Due();
      if (count_ > 0) n = std::min<uint64_t>(n, count_ - generated_);
      if (n == 0) {
        if (count_ > 0 && generated_ >= count_) break;
        int64_t wait = std::min<int64_t>(pacer.NanosUntilNext(), 50'000'000);
        std::this_thread::sleep_for(std::chrono::nanoseconds(std::max<int64_t>(wait, 100'000)));
        continue;
      }
      text.clear();
      scenario_->NextLines(text, n);
      size_t bytes = text.size();
      auto buf = codec::PaddedBuffer::Adopt(std::move(text));
      text = std::string();
      Batch batch(ctx_->layout().width());
      batch.Hold(buf);
      batch.ingest_time = NowMillis();
      batch.bytes = bytes;
      generated_ += n;
      batch.origin.position = static_cast<int64_t>(generated_.load());
      ctx_->stats().bytes += bytes;
      // Decoded by the pipeline's workers.
      batch.deferred = [this, buf, n](Batch& b) {
        b.Reserve(n);
        codec::DecodeStats st =
            codec::ThreadDecoder(ctx_->layout(),
                                 {.envelopes = changes_, .gate = ctx_->decode_gate(), .prefix_reads = !changes_})
                .DecodeNdjson(*buf, b, nullptr);
        ctx_->stats().accepted += st.events;
        ctx_->stats().rejected += st.rejected;
      };
      if (!ctx_->Push(std::move(batch))) return;
    }
    if (!stop_) ctx_->EndPartition(0);
  }

  std::unique_ptr<simulate::Scenario> scenario_;
  double rate_;
  uint64_t count_;
  size_t batch_size_;
  bool changes_;  ///< the scenario writes change envelopes (orders): decode them as changes
  runtime::SourceContext* ctx_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generated_{0};
};

}  // namespace

std::unique_ptr<runtime::Source> MakeSimulatorSource(const spec::SourceSpec& spec, runtime::PlanContext& ctx) {
  spec::ConfigReader r(spec.config, ctx.diags);
  std::string scenario = r.String("scenario", "ecommerce");
  double rate = r.Double("rate", 1000);
  int64_t count = r.Int("count", 0, 0);
  simulate::Options options;
  options.seed = static_cast<uint64_t>(r.Int("seed", 1, 0));
  options.realtime = r.Bool("realtime", rate > 0);
  if (auto start = r.OptionalString("start_time")) {
    if (auto t = ParseIso8601(*start)) {
      options.start_time = *t;
    } else {
      r.Error("start_time", fmt::format("expected an ISO-8601 time such as 2026-02-16T10:30:00Z, found '{}'", *start));
    }
  }
  options.events_per_second_of_event_time = r.Double("event_time_rate", rate > 0 ? rate : 1000);
  options.max_disorder = r.Duration("max_disorder", 3000);
  for (const auto& [k, v] : r.StringMap("params")) options.params[k] = v;
  size_t batch_size = static_cast<size_t>(r.Int("batch_size", 1000, 1, 1'000'000));
  bool scenario_changes = false;
  for (const simulate::ScenarioInfo& info : simulate::Scenarios())
    if (info.name == scenario) scenario_changes = info.changes;
  // Change envelopes are decoded as changes (updates retract `before`), unless `changes: false`.
  bool changes = r.Bool("changes", scenario_changes);
  r.RejectUnknownKeys({"id", "required"});
  auto made = simulate::MakeScenario(scenario, options);
  if (!made) {
    r.Error("scenario", made.error().message);
    return nullptr;
  }
  return std::make_unique<SimulatorSource>(std::move(*made), rate, static_cast<uint64_t>(count), batch_size, changes);
}

}  // namespace weir::connectors
