#include "weir/runtime/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <optional>

#include <malloc.h>
#include <unistd.h>

#include "weir/base/log.h"
#include "weir/runtime/checkpoint.h"
#include "weir/runtime/prepare_pool.h"
#include "weir/runtime/queue.h"
#include "weir/runtime/retention.h"
#include "weir/runtime/telemetry.h"

namespace weir::runtime {
namespace {

enum class Route { kEvents, kMetric, kLate };

struct SinkEntry {
  std::string id;
  std::string type;
  Route route = Route::kEvents;
  int metric = -1;
  bool required = true;
  std::unique_ptr<Sink> sink;
};

}  // namespace

struct Pipeline::Impl : Emitter {
  std::string name;
  PipelineOptions options;
  Layout layout;
  std::vector<SourceInfo> source_info;
  std::vector<std::string> source_types;
  std::vector<std::unique_ptr<Source>> sources;
  std::vector<std::unique_ptr<SourceContext>> contexts;
  std::vector<std::unique_ptr<Processor>> processors;
  std::vector<std::unique_ptr<codec::DecodeGate>> gates;  // per source; null: decode everything

  // Decode gates (codec::DecodeGate), per source, when no processor sees its events (one could
  // change any field). A source whose every reader is a metric with a `where` (and no event
  // sink sees its events) gets a filter: its decoders skip most of an event no `where` keeps,
  // reading only what the watermark needs (the event times). A source whose metrics all take
  // one top-level field as event time has it converted by the decoder (Batch::TimesFor).
  void BuildDecodeGates() {
    gates.resize(sources.size());
    if (!processors.empty()) return;
    bool event_sinks = false;
    for (const auto& s : sinks) event_sinks = event_sinks || s.route == Route::kEvents;
    for (uint32_t src = 0; src < sources.size(); ++src) {
      auto gate = std::make_unique<codec::DecodeGate>();
      std::vector<const expr::Program*> filters;
      bool filter_all = !event_sinks;
      std::optional<uint32_t> time_slot;
      bool one_time_slot = true;
      for (const auto& m : metrics) {
        if (!m->Reads(src)) continue;
        const expr::Program* f = m->record_filter();
        if (!f || f->slots().empty())
          filter_all = false;
        else
          filters.push_back(f);
        if (f) gate->decide.insert(gate->decide.end(), f->slots().begin(), f->slots().end());
        if (const expr::Program* t = m->event_time_expr()) {
          gate->always.insert(gate->always.end(), t->slots().begin(), t->slots().end());
          auto slot = t->FieldSlot();
          if (!slot || (time_slot && *time_slot != *slot)) one_time_slot = false;
          time_slot = slot;
        }
      }
      if (one_time_slot && time_slot) gate->time_slot = static_cast<int32_t>(*time_slot);
      if (filter_all && !filters.empty()) {
        for (auto* v : {&gate->decide, &gate->always}) {
          std::sort(v->begin(), v->end());
          v->erase(std::unique(v->begin(), v->end()), v->end());
        }
        gate->keep = [filters](const Value* row, Arena& arena) {
          for (const expr::Program* f : filters)
            if (f->Test(row, arena)) return true;
          return false;
        };
        for (const expr::Program* f : filters) {
          auto eq = f->FieldEqualsText();
          if (!eq) {
            gate->equals.clear();
            break;
          }
          gate->equals.push_back({eq->first, eq->second});
        }
      } else {
        gate->decide.clear();
        gate->always.clear();
      }
      if (gate->keep || gate->time_slot >= 0) gates[src] = std::move(gate);
    }
  }
  std::vector<std::unique_ptr<Metric>> metrics;
  std::vector<SinkEntry> sinks;
  std::unique_ptr<store::ResultStore> store;
  std::vector<ResultListener*> listeners;
  Telemetry telemetry;
  TelemetrySnapshot telemetry_snapshot;  // under mu
  Timestamp applying_ingest_time = 0;    // ingest time of the batch being applied
  Timestamp pending_ingest_time = 0;     // oldest ingest time applied since the last emission
  spec::DurabilitySpec durability;
  std::string data_dir;
  std::unique_ptr<CheckpointStore> checkpoints;
  std::unique_ptr<RetentionJob> retention;
  Timestamp last_retention_at = 0;
  std::optional<Checkpoint> restored;
  std::vector<std::string> skipped_checkpoints;
  /// Source positions of the checkpoints on disk, by id: a source may drop only what all of
  /// them cover, so that falling back to an older one (the newest being damaged) still finds
  /// its input.
  std::map<uint64_t, std::vector<Checkpoint::SourcePosition>> kept_positions;
  std::vector<std::vector<int64_t>> positions;  // per source, per partition: last applied
  bool changed_since_checkpoint = false;
  // Applying a batch to partitioned metrics (pipeline thread): the worker pool while Run() has
  // one, and the (metric, partition) tasks of the batch at hand.
  PreparePool* pool_for_apply = nullptr;
  std::vector<std::pair<size_t, size_t>> part_tasks;
  uint64_t next_checkpoint_id = 1;
  Timestamp last_checkpoint_at = 0;
  struct CheckpointStats {
    uint64_t taken = 0, failed = 0, last_bytes = 0, last_id = 0;
    int64_t last_ms = 0;        // from the cut to the checkpoint being durable
    int64_t last_pause_ms = 0;  // how long the pipeline thread stopped for it (the cut)
    Timestamp last_at = 0;
    std::string last_error;
  } ckpt_stats;
  // The checkpoint being written in the background, if any (one at a time).
  struct CheckpointInFlight {
    Checkpoint cp;
    int64_t started_ns = 0;
    std::shared_ptr<std::atomic<int64_t>> durable_ns =
        std::make_shared<std::atomic<int64_t>>(0);  ///< set by the writer
    std::future<Result<uint64_t>> written;
  };
  std::optional<CheckpointInFlight> ckpt_in_flight;
  BoundedQueue<Message> queue;
  std::thread thread;
  Timestamp started_at = 0;

  std::vector<uint32_t> ended_partitions;  // per source
  mutable std::mutex mu;
  std::condition_variable cv;
  bool done = false;      // every bounded input processed
  bool finished = false;  // pipeline thread exited
  bool stopped = false;
  std::optional<Error> failure;
  std::string status;  // snapshot, under mu
  std::atomic<bool> stop_requested{false};
  /// Resident memory, read on the timer when durability.max_memory is set; above the cap,
  /// sources' TryReserve/TryPush refuse (HTTP answers 503) until it is back under.
  std::atomic<int64_t> resident_bytes{0};
  std::atomic<bool> over_memory{false};

  Impl(const PipelineOptions& o, size_t queue_bytes) : options(o), queue(o.queue_batches, queue_bytes) {}

  class Context : public SourceContext {
   public:
    Context(Impl& p, uint32_t index) : p_(p), index_(index) {}
    bool Push(Batch&& batch) override {
      batch.origin.source = index_;
      size_t bytes = batch.bytes + batch.size() * batch.width() * sizeof(Value);
      stats_.batches++;
      return p_.queue.Push(Message{Message::kBatch, std::move(batch), index_, 0}, bytes);
    }
    bool TryPush(Batch& batch) override {
      batch.origin.source = index_;
      size_t bytes = batch.bytes + batch.size() * batch.width() * sizeof(Value);
      Message m{Message::kBatch, std::move(batch), index_, 0};
      if (!p_.over_memory.load(std::memory_order_relaxed) && p_.queue.TryPush(m, bytes)) {
        stats_.batches++;
        return true;
      }
      batch = std::move(m.batch);
      return false;
    }
    bool TryReserve(size_t bytes) override {
      return !p_.over_memory.load(std::memory_order_relaxed) && p_.queue.TryReserve(bytes);
    }
    std::string CapacityReason() const override {
      if (p_.over_memory.load(std::memory_order_relaxed))
        return fmt::format("weir's resident memory ({} MiB) is above its cap (durability.max_memory, {} MiB)",
                           p_.resident_bytes.load() >> 20, p_.durability.max_memory >> 20);
      return fmt::format("the pipeline is at capacity ({} MiB of input waiting, durability.max_queued_bytes)",
                         p_.queue.bytes() >> 20);
    }
    void PushReserved(Batch&& batch, size_t bytes) override {
      batch.origin.source = index_;
      stats_.batches++;
      p_.queue.PushReserved(Message{Message::kBatch, std::move(batch), index_, 0}, bytes);
    }
    void CancelReservation(size_t bytes) override { p_.queue.CancelReservation(bytes); }
    void EndPartition(uint32_t partition) override {
      p_.queue.ForcePush(Message{Message::kEnd, Batch(), index_, partition});
    }
    const Layout& layout() const override { return p_.layout; }
    std::unique_ptr<codec::JsonDecoder> NewDecoder(const codec::DecodeOptions& options) const override {
      return std::make_unique<codec::JsonDecoder>(p_.layout, options);
    }
    uint32_t source_index() const override { return index_; }
    SourceStats& stats() override { return stats_; }
    std::optional<int64_t> RestoredPosition(uint32_t partition) const override {
      if (!p_.restored) return std::nullopt;
      return p_.restored->PositionOf(p_.source_info[index_].id, partition);
    }
    std::string_view RestoredState() const override {
      return p_.restored ? p_.restored->StateOf(p_.source_info[index_].id) : std::string_view();
    }
    const std::string& data_dir() const override { return p_.data_dir; }
    const codec::DecodeGate* decode_gate() const override {
      return index_ < p_.gates.size() ? p_.gates[index_].get() : nullptr;
    }
    const SourceStats& stats() const { return stats_; }

   private:
    Impl& p_;
    uint32_t index_;
    SourceStats stats_;
  };

  // ---- Emitter -----------------------------------------------------------------------------

  void EmitResults(ResultBatch& batch) override {
    if (batch.rows.empty() && batch.replaces.empty()) return;
    if (auto st = store->Write(batch); !st) Fail(st.error(), "result store", true);
    for (ResultListener* l : listeners) l->OnResults(batch);
    // Ingest to result: the batch being applied caused it, or (an early or timer emission) the
    // oldest batch applied since the last emission.
    Timestamp since = applying_ingest_time > 0 ? applying_ingest_time : pending_ingest_time;
    if (since > 0) telemetry.ObserveLatency(static_cast<double>(NowMillis() - since) / 1000.0);
    if (applying_ingest_time == 0) pending_ingest_time = 0;
    for (auto& s : sinks) {
      if (s.route != Route::kMetric || s.metric != static_cast<int>(batch.schema->index)) continue;
      if (auto st = s.sink->WriteResults(batch); !st) SinkFailed(s, st.error());
    }
  }

  void EmitLate(LateBatch& batch) override {
    if (batch.records.empty()) return;
    if (auto st = store->WriteLate(batch); !st) Fail(st.error(), "result store", true);
    for (auto& s : sinks) {
      if (s.route != Route::kLate || s.metric != static_cast<int>(batch.schema->index)) continue;
      if (auto st = s.sink->WriteLate(batch); !st) SinkFailed(s, st.error());
    }
  }

  void SinkFailed(SinkEntry& s, const Error& e) {
    s.sink->stats().errors++;
    Fail(e, fmt::format("sink '{}'", s.id), s.required);
  }

  void Fail(const Error& e, std::string_view what, bool fatal) {
    if (!fatal) {
      WEIR_LOG_WARN("{}: {}", what, e.message);
      return;
    }
    WEIR_LOG_ERROR("{} failed, stopping the pipeline: {}", what, e.message);
    std::lock_guard lock(mu);
    if (!failure) failure = e.Wrap(what);
    stop_requested = true;
  }

  // ---- Pipeline thread --------------------------------------------------------------------

  void Run() {
    using namespace std::chrono;
    Timestamp last_timer = 0;
    // Tick often enough for the most eager early emission.
    Duration timer_interval = options.timer_interval;
    for (const auto& m : metrics)
      if (auto e = m->EarlyEmitInterval()) timer_interval = std::max<Duration>(1, std::min(timer_interval, *e));
    std::unique_ptr<PreparePool> pool;
    if (options.workers > 1) pool = std::make_unique<PreparePool>(options.workers - 1, [this](Work& w) { Prepare(w); });
    pool_for_apply = pool.get();
    std::deque<std::unique_ptr<Work>> inflight;
    const size_t max_inflight = std::max<size_t>(2, options.workers * 2);
    while (true) {
      // Take in what the sources sent, up to the in-flight bound; wait only when idle.
      bool got = false;
      while (inflight.size() < max_inflight) {
        // Idle: wait for input, but not past the next timer tick (early emission, idle inputs).
        Duration until_tick = std::max<Duration>(0, timer_interval - (NowMillis() - last_timer));
        auto msg = queue.Pop(inflight.empty() && !got ? milliseconds(until_tick) : milliseconds(0));
        if (!msg) break;
        got = true;
        auto w = std::make_unique<Work>();
        w->msg = std::move(*msg);
        // Small batches (single-event requests) cost more to hand over than to prepare here.
        if (pool && w->msg.kind == Message::kBatch && (w->msg.batch.deferred || w->msg.batch.size() >= 256)) {
          pool->Submit(w.get());
        } else {
          Prepare(*w);
          w->ready = true;
        }
        inflight.push_back(std::move(w));
      }
      if (!inflight.empty()) {
        Work& w = *inflight.front();
        if (pool) pool->WaitReady(&w);
        Apply(w);
        inflight.pop_front();
      }
      Timestamp now = NowMillis();
      bool idle = inflight.empty() && queue.size() == 0;
      if (now - last_timer >= timer_interval) {
        last_timer = now;
        for (auto& m : metrics) m->OnTimer(now, *this);
        FlushSinks();
        CheckMemory();
        FinishCheckpoint(false);
        if (checkpoints && changed_since_checkpoint && now - last_checkpoint_at >= durability.checkpoint_interval)
          TakeCheckpoint();
        if (retention && now - last_retention_at >= 1000) {
          last_retention_at = now;
          retention->Run();
        }
        Snapshot(now);
      } else if (idle) {
        // Caught up: publish the status now, so that what a client just saw acknowledged and
        // processed is reflected in /api/v1/status.
        Snapshot(now);
      }
      if (!got && inflight.empty() && queue.closed() && queue.size() == 0) break;
      if (stop_requested && !queue.closed()) queue.Close();
    }
    pool_for_apply = nullptr;
    pool.reset();
    FlushSinks();
    if (retention) retention->Run();
    FinishCheckpoint(true);
    if (checkpoints && changed_since_checkpoint) TakeCheckpoint(true);  // the final one, on the way out
    Snapshot(NowMillis());
    std::lock_guard lock(mu);
    finished = true;
    cv.notify_all();
  }

  // Pipeline thread, between batches: the state and the positions agree. The cut (metric states
  // serialized, positions taken, results flushed to the store) stops the pipeline; writing and
  // syncing the file happens on another thread, and FinishCheckpoint completes it. With `wait`,
  // returns once it is durable (shutdown).
  void TakeCheckpoint(bool wait = false) {
    if (ckpt_in_flight) {
      if (!wait) return;  // the previous one is still being written: try again at the next tick
      FinishCheckpoint(true);
    }
    int64_t started = MonotonicNanos();
    FlushSinks();  // sink positions below count only what reached the OS
    Checkpoint cp;
    cp.id = next_checkpoint_id;
    cp.created_at = NowMillis();
    for (size_t s = 0; s < sources.size(); ++s)
      for (uint32_t p = 0; p < positions[s].size(); ++p)
        if (positions[s][p] >= 0) cp.positions.push_back({source_info[s].id, p, positions[s][p]});
    for (auto& s : sinks)
      if (auto pos = s.sink->Position()) cp.positions.push_back({"sink:" + s.id, 0, *pos});
    for (size_t s = 0; s < sources.size(); ++s) {
      Checkpoint::SourceState state{source_info[s].id, {}};
      sources[s]->SaveState(state.state);
      if (!state.state.empty()) cp.sources.push_back(std::move(state));
    }
    for (auto& m : metrics) {
      Checkpoint::MetricState ms{m->schema().id, m->StateFingerprint(), {}};
      m->SaveState(ms.state);
      cp.metrics.push_back(std::move(ms));
    }
    // Results emitted so far must be in the store before the checkpoint says they are done.
    if (auto st = store->Flush(); !st) {
      ++ckpt_stats.failed;
      ckpt_stats.last_error = st.error().message;
      WEIR_LOG_WARN("checkpoint {} not taken: {}", cp.id, st.error().message);
      return;
    }
    ++next_checkpoint_id;
    changed_since_checkpoint = false;
    last_checkpoint_at = NowMillis();
    ckpt_stats.last_pause_ms = (MonotonicNanos() - started) / 1'000'000;
    ckpt_in_flight.emplace();
    ckpt_in_flight->cp = std::move(cp);
    ckpt_in_flight->started_ns = started;
    const Checkpoint* to_write = &ckpt_in_flight->cp;  // stays put until FinishCheckpoint
    ckpt_in_flight->written =
        std::async(std::launch::async, [store = checkpoints.get(), to_write, durable = ckpt_in_flight->durable_ns] {
          auto written = store->Write(*to_write);
          durable->store(MonotonicNanos());
          return written;
        });
    if (wait) FinishCheckpoint(true);
  }

  // Pipeline thread: once the background write is done (or, with `wait`, after waiting for it),
  // records the outcome and lets sources drop what the checkpoint covers.
  void FinishCheckpoint(bool wait) {
    if (!ckpt_in_flight) return;
    auto& f = ckpt_in_flight->written;
    if (!wait && f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
    Result<uint64_t> written = f.get();
    Checkpoint cp = std::move(ckpt_in_flight->cp);
    int64_t started = ckpt_in_flight->started_ns;
    int64_t durable = ckpt_in_flight->durable_ns->load();
    ckpt_in_flight.reset();
    if (!written) {
      ++ckpt_stats.failed;
      ckpt_stats.last_error = written.error().message;
      changed_since_checkpoint = true;  // the next one covers this one's changes
      WEIR_LOG_WARN("checkpoint {} failed: {}", cp.id, written.error().message);
      return;
    }
    ++ckpt_stats.taken;
    ckpt_stats.last_id = cp.id;
    ckpt_stats.last_bytes = *written;
    ckpt_stats.last_ms = (durable - started) / 1'000'000;  // from the cut until durable, not until noticed
    ckpt_stats.last_at = cp.created_at;
    kept_positions[cp.id] = std::move(cp.positions);
    while (kept_positions.size() > static_cast<size_t>(std::max(checkpoints->keep(), 1)))
      kept_positions.erase(kept_positions.begin());
    std::map<std::pair<std::string_view, uint32_t>, int64_t> oldest;  // (source, partition) -> position
    for (const auto& [id, positions] : kept_positions)
      for (const auto& pos : positions) {
        auto [it, fresh] = oldest.try_emplace({pos.source, pos.partition}, pos.position);
        if (!fresh) it->second = std::min(it->second, pos.position);
      }
    for (const auto& [where, position] : oldest)
      for (size_t s = 0; s < sources.size(); ++s)
        if (source_info[s].id == where.first) sources[s]->OnCheckpoint(where.second, position);
  }

  // Any thread: everything that needs no operator state.
  void Prepare(Work& w) {
    if (w.msg.kind != Message::kBatch) return;
    Batch& batch = w.msg.batch;
    if (batch.deferred) {
      auto work = std::move(batch.deferred);
      batch.deferred = nullptr;
      work(batch);
    }
    for (auto& p : processors) {
      if (batch.empty()) break;
      p->Process(batch);
    }
    w.prepared.resize(metrics.size());
    for (size_t i = 0; i < metrics.size(); ++i)
      if (metrics[i]->Reads(w.msg.source) && !batch.empty()) w.prepared[i] = metrics[i]->Prepare(batch);
  }

  // Pipeline thread, in arrival order.
  void Apply(Work& w) {
    Message& m = w.msg;
    if (m.kind == Message::kEnd) {
      for (auto& metric : metrics)
        if (metric->Reads(m.source)) metric->EndPartition(m.source, m.partition, *this);
      ended_partitions[m.source]++;
      changed_since_checkpoint = true;
      CheckDone();
      return;
    }
    Batch& batch = m.batch;
    applying_ingest_time = batch.ingest_time;
    if (pending_ingest_time == 0) pending_ingest_time = batch.ingest_time;
    // The partitions of every partitioned metric in one parallel step; then, in metric order,
    // their emissions and the other metrics.
    part_tasks.clear();
    for (size_t i = 0; i < metrics.size(); ++i) {
      if (!w.prepared[i] || metrics[i]->PartitionCount() == 0) continue;
      metrics[i]->BeginApply();
      for (size_t p = 0; p < metrics[i]->PartitionCount(); ++p) part_tasks.emplace_back(i, p);
    }
    if (!part_tasks.empty()) {
      auto task = [&](size_t t) {
        auto [i, p] = part_tasks[t];
        metrics[i]->ApplyPartition(batch, w.prepared[i].get(), p);
      };
      if (pool_for_apply) {
        pool_for_apply->Run(part_tasks.size(), task);
      } else {
        for (size_t t = 0; t < part_tasks.size(); ++t) task(t);
      }
    }
    for (size_t i = 0; i < metrics.size(); ++i) {
      if (!w.prepared[i]) continue;
      if (metrics[i]->PartitionCount() > 0) {
        metrics[i]->FinishApply(*this);
      } else {
        metrics[i]->Apply(batch, w.prepared[i].get(), *this);
      }
    }
    applying_ingest_time = 0;
    changed_since_checkpoint = true;
    if (batch.origin.position >= 0) {
      auto& parts = positions[m.source];
      if (parts.size() <= batch.origin.partition) parts.resize(batch.origin.partition + 1, -1);
      parts[batch.origin.partition] = batch.origin.position;
    }
    for (auto& s : sinks) {
      if (s.route != Route::kEvents || batch.empty()) continue;
      if (auto st = s.sink->WriteEvents(batch); !st) SinkFailed(s, st.error());  // the sink counts what it wrote
    }
  }

  void FlushSinks() {
    for (auto& s : sinks)
      if (auto st = s.sink->Flush(); !st) SinkFailed(s, st.error());
  }

  void CheckDone() {
    for (size_t i = 0; i < sources.size(); ++i)
      if (!source_info[i].bounded || ended_partitions[i] < source_info[i].partitions) return;
    for (auto& m : metrics) m->OnTimer(NowMillis(), *this);
    FlushSinks();
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  }

  // Pipeline thread, on the timer: the memory cap.
  void CheckMemory() {
    if (durability.max_memory <= 0) return;
    int64_t rss = ResidentBytes();
    if (rss > durability.max_memory) {
      malloc_trim(0);  // freed memory the allocator still holds counts as resident
      rss = ResidentBytes();
    }
    resident_bytes = rss;
    bool over = rss > durability.max_memory;
    if (over != over_memory.exchange(over))
      WEIR_LOG_WARN("resident memory {} MiB is {} the cap of {} MiB{}", rss >> 20, over ? "above" : "back under",
                    durability.max_memory >> 20, over ? ": ingest answers 503 until it is back under" : "");
  }

  static int64_t ResidentBytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long size = 0, resident = 0;
    int n = std::fscanf(f, "%ld %ld", &size, &resident);
    std::fclose(f);
    return n == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE) : 0;
  }

  void Snapshot(Timestamp now) {
    std::string s = fmt::format("{{\"pipeline\":\"{}\",\"uptime_ms\":{},\"queue\":{{\"batches\":{},\"bytes\":{}}}",
                                name, now - started_at, queue.size(), queue.bytes());
    if (durability.max_memory > 0)
      s += fmt::format(",\"memory\":{{\"resident_bytes\":{},\"max_memory\":{},\"over\":{}}}", resident_bytes.load(),
                       durability.max_memory, over_memory.load());
    s += ",\"sources\":[";
    for (size_t i = 0; i < sources.size(); ++i) {
      const auto& st = static_cast<Context&>(*contexts[i]).stats();
      if (i) s += ',';
      s += "{\"id\":";
      AppendJsonString(s, source_info[i].id);
      s += ",\"type\":";
      AppendJsonString(s, source_types[i]);
      s += fmt::format(",\"accepted\":{},\"rejected\":{},\"bytes\":{},\"batches\":{},\"ended\":{}", st.accepted.load(),
                       st.rejected.load(), st.bytes.load(), st.batches.load(),
                       source_info[i].bounded && ended_partitions[i] >= source_info[i].partitions);
      std::optional<Timestamp> wm;
      for (auto& m : metrics) {
        auto w = m->InputWatermark(static_cast<uint32_t>(i));
        if (w && (!wm || *w < *wm)) wm = w;
      }
      s += ",\"watermark\":";
      if (wm) {
        AppendJson(s, Value::Time(*wm));
      } else {
        s += "null";
      }
      s += sources[i]->StatusJson();
      s += '}';
    }
    s += "],\"checkpoints\":";
    s += fmt::format(
        "{{\"enabled\":{},\"taken\":{},\"failed\":{},\"last_id\":{},\"last_bytes\":{},\"last_duration_ms\":{},\"last_"
        "pause_ms\":{}",
        checkpoints != nullptr, ckpt_stats.taken, ckpt_stats.failed, ckpt_stats.last_id, ckpt_stats.last_bytes,
        ckpt_stats.last_ms, ckpt_stats.last_pause_ms);
    s += ",\"last_at\":";
    if (ckpt_stats.last_at)
      AppendJson(s, Value::Time(ckpt_stats.last_at));
    else
      s += "null";
    s += ",\"restored_from\":";
    s += restored ? std::to_string(restored->id) : "null";
    s += ",\"skipped\":[";
    for (size_t i = 0; i < skipped_checkpoints.size(); ++i) {
      if (i) s += ',';
      AppendJsonString(s, skipped_checkpoints[i]);
    }
    s += "]";
    if (!ckpt_stats.last_error.empty()) {
      s += ",\"last_error\":";
      AppendJsonString(s, ckpt_stats.last_error);
    }
    s += "},\"metrics\":[";
    for (size_t i = 0; i < metrics.size(); ++i) {
      if (i) s += ',';
      s += metrics[i]->StatusJson(now);
    }
    s += "],\"sinks\":[";
    for (size_t i = 0; i < sinks.size(); ++i) {
      if (i) s += ',';
      s += "{\"id\":";
      AppendJsonString(s, sinks[i].id);
      s += ",\"type\":";
      AppendJsonString(s, sinks[i].type);
      s += fmt::format(",\"written\":{},\"errors\":{}}}", sinks[i].sink->stats().written.load(),
                       sinks[i].sink->stats().errors.load());
    }
    s += "]}";
    TelemetrySnapshot t;
    for (size_t i = 0; i < sources.size(); ++i) {
      const auto& st = static_cast<Context&>(*contexts[i]).stats();
      t.sources.push_back({source_info[i].id, source_types[i], st.accepted.load(), st.rejected.load(), st.bytes.load(),
                           st.batches.load()});
    }
    for (const auto& sk : sinks)
      t.sinks.push_back({sk.id, sk.type, sk.sink->stats().written.load(), sk.sink->stats().errors.load()});
    for (const auto& m : metrics) {
      MetricNumbers n = m->Numbers();
      double lag = n.watermark == kMinTimestamp || n.watermark == kMaxTimestamp
                       ? std::nan("")
                       : static_cast<double>(now - n.watermark) / 1000.0;
      t.metrics.push_back({m->schema().id, lag, n.late, n.emitted_rows, n.open_panes, n.groups});
    }
    t.queue_batches = queue.size();
    t.queue_bytes = queue.bytes();
    t.store_bytes = store ? store->SizeBytes() : 0;
    t.checkpoints = ckpt_stats.taken;
    t.checkpoint_failures = ckpt_stats.failed;
    t.checkpoint_bytes = ckpt_stats.last_bytes;
    t.checkpoint_seconds = static_cast<double>(ckpt_stats.last_ms) / 1000.0;
    std::lock_guard lock(mu);
    status = std::move(s);
    telemetry_snapshot = std::move(t);
  }
};

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Pipeline::~Pipeline() { Stop(); }

std::unique_ptr<Pipeline> Pipeline::Plan(const spec::Pipeline& spec, const Registry& registry,
                                         const PipelineOptions& options, spec::Diagnostics& diags) {
  auto impl = std::make_unique<Impl>(options, static_cast<size_t>(spec.durability.max_queued_bytes));
  impl->name = spec.name;
  impl->durability = spec.durability;
  impl->data_dir = !options.data_dir.empty()      ? options.data_dir
                   : !spec.durability.dir.empty() ? spec.durability.dir
                                                  : std::string(".weir/") + spec.name;
  PlanContext ctx{spec, diags, impl->layout, {}, impl->data_dir, std::max<size_t>(1, options.workers)};

  auto suggest = [](const std::vector<std::string>& known) {
    std::string s;
    for (const auto& k : known) s += (s.empty() ? "" : ", ") + k;
    return s;
  };

  // The spec may be partly loaded (the loader reported errors and kept what it could, so that
  // planning reports its own errors in the same run): an entry without a type (already
  // reported) is skipped, keeping source indices in step.
  for (const auto& src : spec.sources) {
    if (!src.enabled) continue;
    const SourceFactory* f = registry.FindSource(src.type);
    if (!f) {
      if (!src.type.empty())
        diags.Error(src.location, fmt::format("unknown source type '{}'; known types: {}", src.type,
                                              suggest(registry.SourceTypes())));
      ctx.sources.push_back({src.id});
      impl->sources.push_back(nullptr);
      continue;
    }
    auto source = (*f)(src, ctx);
    SourceInfo info{src.id};
    if (source) {
      info.partitions = source->partitions();
      info.bounded = source->bounded();
      info.may_retract = source->may_retract();
    }
    ctx.sources.push_back(info);
    impl->source_types.push_back(src.type);
    impl->sources.push_back(std::move(source));
  }
  for (const auto& p : spec.processors) {
    if (p.type.empty()) continue;
    const ProcessorFactory* f = registry.FindProcessor(p.type);
    if (!f) {
      diags.Error(p.location, fmt::format("unknown processor type '{}'; known types: {}", p.type,
                                          suggest(registry.ProcessorTypes())));
      continue;
    }
    if (auto proc = (*f)(p, ctx)) impl->processors.push_back(std::move(proc));
  }
  for (size_t i = 0; i < spec.metrics.size(); ++i) {
    if (!registry.metric_factory()) break;
    if (auto m = registry.metric_factory()(spec.metrics[i], ctx, static_cast<uint32_t>(i)))
      impl->metrics.push_back(std::move(m));
  }
  for (const auto& s : spec.sinks) {
    if (s.type.empty()) continue;
    const SinkFactory* f = registry.FindSink(s.type);
    if (!f) {
      diags.Error(s.location,
                  fmt::format("unknown sink type '{}'; known types: {}", s.type, suggest(registry.SinkTypes())));
      continue;
    }
    SinkEntry e{s.id, s.type, Route::kEvents, -1, s.required, (*f)(s, ctx)};
    if (!e.sink) continue;
    auto metric_index = [&](std::string_view id) {
      for (size_t i = 0; i < spec.metrics.size(); ++i)
        if (spec.metrics[i].id == id) return static_cast<int>(i);
      return -1;
    };
    if (s.from.rfind("metric:", 0) == 0) {
      e.route = Route::kMetric;
      e.metric = metric_index(s.from.substr(7));
    } else if (s.from.rfind("late:", 0) == 0) {
      e.route = Route::kLate;
      e.metric = metric_index(s.from.substr(5));
    }
    impl->sinks.push_back(std::move(e));
  }
  if (!diags.ok()) return nullptr;
  impl->BuildDecodeGates();
  impl->source_info = ctx.sources;
  impl->ended_partitions.assign(impl->sources.size(), 0);
  impl->positions.resize(impl->sources.size());
  for (uint32_t i = 0; i < impl->sources.size(); ++i)
    impl->contexts.push_back(std::make_unique<Impl::Context>(*impl, i));
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(impl)));
}

Status Pipeline::Start() {
  Impl& p = *impl_;
  p.started_at = NowMillis();
  const std::string& dir = p.data_dir;
  WEIR_ASSIGN_OR_RETURN(p.store, store::ResultStore::Open((std::filesystem::path(dir) / "results").string()));
  p.checkpoints = std::make_unique<CheckpointStore>((std::filesystem::path(dir) / "checkpoints").string(),
                                                    p.durability.checkpoint_keep);
  WEIR_ASSIGN_OR_RETURN(p.restored, p.checkpoints->LoadLatest(&p.skipped_checkpoints));
  for (const auto& skipped : p.skipped_checkpoints) WEIR_LOG_WARN("skipping checkpoint {}", skipped);
  for (auto& [id, positions] : p.checkpoints->PeekPositions()) p.kept_positions[id] = std::move(positions);
  if (p.restored) {
    for (auto& m : p.metrics) {
      const Checkpoint::MetricState* saved = nullptr;
      for (const auto& ms : p.restored->metrics)
        if (ms.metric == m->schema().id) saved = &ms;
      if (!saved) continue;  // a metric added since: it starts empty
      if (saved->fingerprint != m->StateFingerprint())
        return Fail(
            "the checkpoint in {} was taken with a different definition of metric '{}' (window, group_by or "
            "aggregates changed); restore the previous definition, give the metric a new id, or start with "
            "an empty data directory",
            p.checkpoints->dir(), m->schema().id);
      if (auto st = m->RestoreState(saved->state); !st)
        return std::unexpected(st.error().Wrap(fmt::format("restoring checkpoint {}", p.restored->id)));
    }
    for (const auto& pos : p.restored->positions)
      for (size_t s = 0; s < p.source_info.size(); ++s)
        if (p.source_info[s].id == pos.source) {
          if (p.positions[s].size() <= pos.partition) p.positions[s].resize(pos.partition + 1, -1);
          p.positions[s][pos.partition] = pos.position;
        }
    p.next_checkpoint_id = p.restored->id + 1;
    WEIR_LOG_INFO("restored checkpoint {} from {}", p.restored->id, p.checkpoints->dir());
  }
  for (auto& m : p.metrics) p.store->RegisterMetric(m->schema());
  p.retention = std::make_unique<RetentionJob>(*p.store, p.metrics);
  for (auto& s : p.sinks) {
    s.sink->SetLayout(&p.layout);
    if (p.restored)
      if (auto pos = p.restored->PositionOf("sink:" + s.id, 0)) s.sink->RestorePosition(*pos);
    if (auto st = s.sink->Open(); !st) {
      if (s.required) return std::unexpected(st.error().Wrap(fmt::format("sink '{}'", s.id)));
      WEIR_LOG_WARN("sink '{}' (not required) could not open: {}", s.id, st.error().message);
    }
  }
  p.last_checkpoint_at = p.started_at;  // the first checkpoint comes one interval in
  p.Snapshot(p.started_at);
  p.thread = std::thread([&p] { p.Run(); });
  for (size_t i = 0; i < p.sources.size(); ++i) {
    if (auto st = p.sources[i]->Start(*p.contexts[i]); !st) {
      Stop();
      return std::unexpected(st.error().Wrap(fmt::format("source '{}'", p.source_info[i].id)));
    }
  }
  if (p.sources.empty()) p.CheckDone();
  return Ok();
}

void Pipeline::Stop() {
  Impl& p = *impl_;
  {
    std::lock_guard lock(p.mu);
    if (p.stopped) return;
    p.stopped = true;
  }
  for (auto& s : p.sources)
    if (s) s->Stop();
  p.queue.Close();
  if (p.thread.joinable()) p.thread.join();
  for (auto& s : p.sinks) {
    (void)s.sink->Flush();
    s.sink->Close();
  }
  std::lock_guard lock(p.mu);
  p.cv.notify_all();
}

bool Pipeline::WaitUntilDone() {
  Impl& p = *impl_;
  std::unique_lock lock(p.mu);
  p.cv.wait(lock, [&] { return p.done || p.finished || p.stopped || p.failure; });
  return p.done && !p.failure;
}

bool Pipeline::bounded() const {
  for (const auto& s : impl_->source_info)
    if (!s.bounded) return false;
  return true;
}

const std::string& Pipeline::name() const { return impl_->name; }
store::ResultStore* Pipeline::store() const { return impl_->store.get(); }

std::vector<IngestEndpoint*> Pipeline::ingest_endpoints() const {
  std::vector<IngestEndpoint*> out;
  for (auto& s : impl_->sources)
    if (auto* e = dynamic_cast<IngestEndpoint*>(s.get())) out.push_back(e);
  return out;
}

std::vector<const MetricSchema*> Pipeline::metric_schemas() const {
  std::vector<const MetricSchema*> out;
  for (auto& m : impl_->metrics) out.push_back(&m->schema());
  return out;
}

std::shared_lock<std::shared_mutex> Pipeline::LockRetention() const {
  return impl_->retention ? impl_->retention->LockForQuery() : std::shared_lock<std::shared_mutex>();
}

std::vector<RetentionLevel> Pipeline::RetentionLevels(std::string_view metric) const {
  return impl_->retention ? impl_->retention->Levels(metric) : std::vector<RetentionLevel>();
}

const Metric* Pipeline::metric(std::string_view id) const {
  for (auto& m : impl_->metrics)
    if (m->schema().id == id) return m.get();
  return nullptr;
}

std::string Pipeline::StatusJson() const {
  std::lock_guard lock(impl_->mu);
  return impl_->status;
}

void Pipeline::AddResultListener(ResultListener* listener) { impl_->listeners.push_back(listener); }

std::string Pipeline::MetricsText(uint64_t live_subscribers) const {
  TelemetrySnapshot t;
  {
    std::lock_guard lock(impl_->mu);
    t = impl_->telemetry_snapshot;
  }
  t.live_subscribers = live_subscribers;
  return impl_->telemetry.Exposition(t);
}

std::pair<std::string, bool> Pipeline::HealthJson() const {
  Impl& p = *impl_;
  std::string s = "{";
  bool down = false;
  auto part = [&](std::string_view name, std::string_view state, std::string_view detail) {
    if (s.size() > 1) s += ',';
    AppendJsonString(s, name);
    s += ":{\"status\":";
    AppendJsonString(s, state);
    if (!detail.empty()) {
      s += ",\"detail\":";
      AppendJsonString(s, detail);
    }
    s += '}';
  };
  std::optional<Error> failure;
  TelemetrySnapshot t;
  uint64_t ck_failed, ck_taken;
  std::string ck_error;
  {
    std::lock_guard lock(p.mu);
    failure = p.failure;
    t = p.telemetry_snapshot;
    ck_failed = p.ckpt_stats.failed;
    ck_taken = p.ckpt_stats.taken;
    ck_error = p.ckpt_stats.last_error;
  }
  part("pipeline", failure ? "unhealthy" : "healthy", failure ? failure->message : "");
  down |= failure.has_value();
  // The store is required: results that cannot be written are lost to queries.
  std::string store_error = p.store ? p.store->Health() : "not open";
  part("store", store_error.empty() ? "healthy" : "unhealthy", store_error);
  down |= !store_error.empty();
  part("checkpoints", ck_failed > 0 && ck_taken == 0 ? "degraded" : "healthy", ck_error);
  for (size_t i = 0; i < p.sources.size(); ++i) {
    std::string health = p.sources[i]->Health();
    bool ready = p.sources[i]->Ready();
    part("source:" + p.source_info[i].id, !health.empty() ? "unhealthy" : ready ? "healthy" : "starting", health);
    down |= !health.empty() || !ready;
  }
  for (size_t i = 0; i < p.sinks.size(); ++i) {
    bool errors = i < t.sinks.size() && t.sinks[i].errors > 0;
    part("sink:" + p.sinks[i].id, errors ? (p.sinks[i].required ? "unhealthy" : "degraded") : "healthy", "");
    down |= errors && p.sinks[i].required;
  }
  s += '}';
  return {s, down};
}

bool Pipeline::Ready() const {
  for (const auto& s : impl_->sources)
    if (!s->Ready()) return false;
  return true;
}

uint64_t Pipeline::accepted_events() const {
  uint64_t n = 0;
  for (const auto& c : impl_->contexts) n += c->stats().accepted.load();
  return n;
}

std::optional<Error> Pipeline::failure() const {
  std::lock_guard lock(impl_->mu);
  return impl_->failure;
}

}  // namespace weir::runtime
