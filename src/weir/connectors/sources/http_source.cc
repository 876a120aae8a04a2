#include "weir/connectors/sources/http_source.h"

#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include "weir/base/log.h"
#include "weir/runtime/ingest.h"
#include "weir/state/wal.h"

namespace weir::connectors {
namespace {

constexpr size_t kMaxListedErrors = 100;

std::string_view MediaType(std::string_view content_type) {
  size_t semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  return t;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string ErrorJson(int status, std::string_view message) {
  std::string s = fmt::format("{{\"error\":{{\"status\":{},\"message\":", status);
  AppendJsonString(s, message);
  s += "}}";
  return s;
}

// Log record payload: [format: 'j' JSON document | 'n' NDJSON][key length: 1 byte][key][body].
std::string EncodeRecord(bool ndjson, std::string_view key, std::string_view body) {
  std::string out;
  out.reserve(2 + key.size() + body.size());
  out.push_back(ndjson ? 'n' : 'j');
  out.push_back(static_cast<char>(key.size()));
  out.append(key);
  out.append(body);
  return out;
}

struct DecodedRecord {
  bool ndjson;
  std::string_view key, body;
};

std::optional<DecodedRecord> DecodeRecord(std::string_view p) {
  if (p.size() < 2 || (p[0] != 'j' && p[0] != 'n')) return std::nullopt;
  size_t klen = static_cast<uint8_t>(p[1]);
  if (p.size() < 2 + klen) return std::nullopt;
  return DecodedRecord{p[0] == 'n', p.substr(2, klen), p.substr(2 + klen)};
}

/// The `http` source: decodes a request, writes it to its write-ahead log, and only once the
/// log has it durably hands the batch to the pipeline and answers 202. After a crash the log is
/// replayed from the last checkpoint's position.
class HttpSource final : public runtime::Source, public runtime::IngestEndpoint {
 public:
  HttpSource(std::string id, std::string path, codec::DecodeOptions options, bool changes,
             const spec::DurabilitySpec& durability, size_t remembered_keys)
      : id_(std::move(id)),
        path_(std::move(path)),
        options_(options),
        changes_(changes),
        durability_(durability),
        remembered_keys_(remembered_keys) {}
  ~HttpSource() override { Stop(); }

  Status Start(runtime::SourceContext& ctx) override {
    ctx_ = &ctx;
    options_.gate = ctx.decode_gate();
    if (auto st = RestoreKeys(ctx.RestoredState()); !st)
      WEIR_LOG_WARN("http source '{}': idempotency keys in the checkpoint: {}", id_, st.error().message);
    // A log that cannot be opened (a read-only or full disk) does not stop weir: ingest answers
    // 503 with the reason, /health names it, and the next request after a second tries again.
    std::lock_guard lock(open_mu_);
    OpenLog();
    return Ok();
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    std::lock_guard lock(open_mu_);
    if (replay_.joinable()) replay_.join();
    // Pending appends complete (and reach the pipeline) before the log closes.
    if (wal_) wal_->Close();
  }

  bool may_retract() const override { return changes_; }
  /// Not ready only while the log is replayed; a log that could not be opened is reported by
  /// Health() and answered with 503 per request.
  bool Ready() const override { return started_ || !log_open_.load(std::memory_order_acquire); }

  std::string Health() const override {
    std::lock_guard lock(health_mu_);
    return health_;
  }
  std::string StatusJson() const override {
    std::string s = ",\"path\":";
    AppendJsonString(s, path_);
    if (log_open_.load(std::memory_order_acquire)) {
      state::WalStats st = wal_->stats();
      s += fmt::format(",\"wal\":{{\"first\":{},\"end\":{},\"appends\":{},\"fsyncs\":{},\"fsync\":\"{}\"",
                       wal_->first_lsn(), wal_->end_lsn(), st.appends, st.fsyncs, durability_.fsync);
      std::string recovery = wal_->recovery().ToString();
      if (!recovery.empty()) {
        s += ",\"recovery\":";
        AppendJsonString(s, recovery);
      }
      s += "}";
    }
    std::lock_guard lock(health_mu_);
    if (!replay_gap_.empty()) {
      s += ",\"replay_gap\":";
      AppendJsonString(s, replay_gap_);
    }
    return s;
  }
  void OnCheckpoint(uint32_t partition, int64_t position) override {
    if (!log_open_.load(std::memory_order_acquire) || position <= 0) return;
    if (auto st = wal_->TruncateBefore(static_cast<state::Lsn>(position)); !st)
      WEIR_LOG_WARN("http source '{}': trimming the log: {}", id_, st.error().message);
  }

  // The remembered idempotency keys and their replies, oldest first: a retry of a request the
  // restored checkpoint covers (so it is not replayed) is still recognised after a restart.
  // Format: count u32, then per key: key length u8, key, reply length u32, reply.
  void SaveState(std::string& out) const override {
    std::lock_guard lock(keys_mu_);
    if (order_.empty()) return;
    auto put32 = [&out](uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
    put32(static_cast<uint32_t>(order_.size()));
    for (const std::string& key : order_) {
      const std::string& reply = replies_.at(key);
      out.push_back(static_cast<char>(key.size()));
      out += key;
      put32(static_cast<uint32_t>(reply.size()));
      out += reply;
    }
  }

  const std::string& path() const override { return path_; }

  void Ingest(runtime::IngestRequest&& req, std::function<void(runtime::IngestReply)> done) override {
    if (auto refused = LogNotOpen()) return done(std::move(*refused));
    if (!started_) return done({503, ErrorJson(503, "weir is starting (replaying its log); retry shortly"), 1});
    if (req.idempotency_key.size() > 255)
      return done({400, ErrorJson(400, "header 'Idempotency-Key' is longer than 255 bytes"), 0});
    std::string_view media = MediaType(req.content_type);
    bool ndjson = IEquals(media, "application/x-ndjson") || IEquals(media, "application/ndjson") ||
                  IEquals(media, "application/jsonl") || IEquals(media, "application/json-seq");
    bool json = media.empty() || IEquals(media, "application/json") || IEquals(media, "text/json");
    if (!ndjson && !json)
      return done({415,
                   ErrorJson(415, fmt::format("unsupported content type '{}'; send application/json (one event, "
                                              "{{\"events\":[...]}} or an array) or application/x-ndjson",
                                              req.content_type)),
                   0});
    if (req.body.find_first_not_of(" \t\r\n") == std::string::npos)
      return done({400, ErrorJson(400, "request body is empty; expected JSON events"), 0});
    if (!req.idempotency_key.empty()) {
      std::lock_guard lock(keys_mu_);
      if (auto it = replies_.find(req.idempotency_key); it != replies_.end())
        return done({202, it->second, 0});  // a retry of a request already in the log
    }

    // Decode first: a request with nothing usable is refused without touching the log.
    std::string record = EncodeRecord(ndjson, req.idempotency_key, req.body);
    auto batch = std::make_shared<Batch>(ctx_->layout().width());
    std::vector<codec::Reject> rejects;
    auto stats = Decode(record, *batch, &rejects);
    if (!stats) {
      ctx_->stats().rejected++;
      return done({400, ErrorJson(400, stats.error().message), 0});
    }
    std::string reply = ReplyJson(*stats, rejects);
    ctx_->stats().rejected += stats->rejected;
    if (stats->events == 0) {
      std::string body =
          ErrorJson(400, fmt::format("no event in the request was accepted ({} rejected)", stats->rejected));
      body.pop_back();  // extend the error object with the per-event details
      body += "," + reply.substr(1);
      return done({400, std::move(body), 0});
    }

    size_t bytes = runtime::SourceContext::QueueBytes(*batch);
    {
      std::lock_guard lock(mu_);
      if (stopped_) return done({503, ErrorJson(503, "weir is shutting down; retry against another instance"), 5});
      if (!ctx_->TryReserve(bytes))
        return done({503, ErrorJson(503, fmt::format("{}; retry after a moment", ctx_->CapacityReason())), 1});
      ++pending_;
    }
    uint64_t events = stats->events;
    uint64_t batch_bytes = batch->bytes;
    std::string key = req.idempotency_key;
    auto on_durable = [this, batch, bytes, batch_bytes, events, key, reply, done](Status st, state::Lsn next) {
      if (!st) {
        ctx_->CancelReservation(bytes);
        Finish();
        WEIR_LOG_ERROR("http source '{}': {}", id_, st.error().message);
        {
          std::lock_guard lock(health_mu_);
          health_ = fmt::format("write-ahead log: {}", st.error().message);
        }
        done({503, ErrorJson(503, fmt::format("cannot store events durably: {}", st.error().message)), 5});
        return;
      }
      batch->origin.position = static_cast<int64_t>(next);
      ctx_->PushReserved(std::move(*batch), bytes);
      ctx_->stats().accepted += events;
      ctx_->stats().bytes += batch_bytes;
      Remember(key, reply);
      Finish();
      done({202, reply, 0});
    };
    // The payload is copied into the log's buffer; the batch keeps its own copy of the body.
    wal_->Append(0, record, std::move(on_durable));
  }

 private:
  // Opens the write-ahead log and starts replaying it in the background (the server answers —
  // 503 with Retry-After for ingest, /health — while the log is read back). Under open_mu_.
  void OpenLog() {
    last_open_attempt_ = MonotonicNanos();
    state::WalOptions wo;
    wo.dir = ctx_->data_dir() + "/wal/" + id_;
    wo.fsync = durability_.fsync == "always"  ? state::FsyncMode::kAlways
               : durability_.fsync == "never" ? state::FsyncMode::kNever
                                              : state::FsyncMode::kInterval;
    wo.fsync_interval = durability_.fsync_interval;
    wo.segment_bytes = static_cast<size_t>(durability_.segment_bytes);
    auto wal = state::Wal::Open(wo);
    if (!wal) {
      std::string reason = wal.error().message;
      WEIR_LOG_ERROR("http source '{}': cannot open its write-ahead log: {}; ingest answers 503 until it can", id_,
                     reason);
      std::lock_guard lock(health_mu_);
      health_ = fmt::format("write-ahead log: {}", reason);
      return;
    }
    wal_ = std::move(*wal);
    {
      std::lock_guard lock(health_mu_);
      health_.clear();
    }
    log_open_.store(true, std::memory_order_release);
    replay_ = std::thread([this] {
      if (auto st = Replay(); !st) {
        WEIR_LOG_ERROR("http source '{}': replaying the log: {}", id_, st.error().message);
        std::lock_guard lock(health_mu_);
        health_ = fmt::format("replaying the write-ahead log: {}", st.error().message);
        return;
      }
      started_ = true;
    });
  }

  // Ingest before the log is open: try again at most once a second; answers why not.
  std::optional<runtime::IngestReply> LogNotOpen() {
    if (log_open_.load(std::memory_order_acquire)) return std::nullopt;
    bool stopping;
    {
      std::lock_guard lock(mu_);
      stopping = stopped_;
    }
    std::lock_guard lock(open_mu_);
    if (!log_open_ && !stopping && MonotonicNanos() - last_open_attempt_ >= 1'000'000'000) OpenLog();
    if (log_open_) return std::nullopt;
    return runtime::IngestReply{503, ErrorJson(503, fmt::format("cannot store events durably: {}", Health())), 5};
  }

  // Decodes a log record into `batch` (which then holds the bytes).
  Result<codec::DecodeStats> Decode(const std::string& record, Batch& batch, std::vector<codec::Reject>* rejects) {
    auto rec = DecodeRecord(record);
    if (!rec) return Fail("malformed log record");
    auto buf = codec::PaddedBuffer::Copy(rec->body);
    batch.Hold(buf);
    batch.ingest_time = NowMillis();
    batch.bytes = rec->body.size();
    codec::JsonDecoder& dec = codec::ThreadDecoder(ctx_->layout(), options_);
    if (rec->ndjson) return dec.DecodeNdjson(*buf, batch, rejects);
    return dec.DecodeDocument(*buf, batch, rejects);
  }

  static std::string ReplyJson(const codec::DecodeStats& st, const std::vector<codec::Reject>& rejects) {
    std::string reply = fmt::format("{{\"accepted\":{},\"rejected\":{}", st.events, st.rejected);
    if (!rejects.empty()) {
      reply += ",\"errors\":[";
      for (size_t i = 0; i < rejects.size() && i < kMaxListedErrors; ++i) {
        if (i) reply += ',';
        reply += fmt::format("{{\"index\":{},\"reason\":", rejects[i].index);
        AppendJsonString(reply, rejects[i].reason);
        reply += '}';
      }
      reply += ']';
      if (rejects.size() > kMaxListedErrors) reply += fmt::format(",\"errors_truncated\":{}", rejects.size());
    }
    reply += '}';
    return reply;
  }

  // Replays the log from the restored checkpoint's position (or its beginning). The replies to
  // replayed requests join the idempotency keys the checkpoint kept.
  Status Replay() {
    state::Lsn from = wal_->first_lsn();
    if (auto pos = ctx_->RestoredPosition(0)) {
      auto restored = static_cast<state::Lsn>(*pos);
      if (restored < from) {
        // The log was trimmed past what the restored checkpoint needs: acknowledged events in
        // between are gone. Never expected (the log is kept back to the oldest checkpoint on
        // disk); said loudly when it happens.
        std::string gap = fmt::format(
            "the restored checkpoint needs the write-ahead log from LSN {} but it begins at LSN {}: events "
            "acknowledged in between are missing from the results",
            restored, from);
        WEIR_LOG_ERROR("http source '{}': {}", id_, gap);
        std::lock_guard lock(health_mu_);
        replay_gap_ = std::move(gap);
      } else {
        from = restored;
      }
    }
    if (from >= wal_->end_lsn()) return Ok();
    WEIR_ASSIGN_OR_RETURN(auto reader, wal_->Read(from));
    state::WalRecord rec;
    uint64_t records = 0, events = 0;
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool more, reader->Next(rec));
      if (!more) break;
      std::string record(rec.payload);
      Batch batch(ctx_->layout().width());
      std::vector<codec::Reject> rejects;
      auto st = Decode(record, batch, &rejects);
      if (!st) {
        WEIR_LOG_WARN("http source '{}': skipping log record at {}: {}", id_, rec.lsn, st.error().message);
        continue;
      }
      if (auto r = DecodeRecord(record)) Remember(std::string(r->key), ReplyJson(*st, rejects));
      batch.origin.position = static_cast<int64_t>(rec.next);
      events += st->events;
      ++records;
      ctx_->stats().accepted += st->events;
      if (!ctx_->Push(std::move(batch))) return Fail("the pipeline stopped during replay");
    }
    WEIR_LOG_INFO("http source '{}': replayed {} requests ({} events) from the log", id_, records, events);
    return Ok();
  }

  Status RestoreKeys(std::string_view in) {
    if (in.empty()) return Ok();
    auto get32 = [&in](uint32_t& v) {
      if (in.size() < 4) return false;
      std::memcpy(&v, in.data(), 4);
      in.remove_prefix(4);
      return true;
    };
    uint32_t n = 0;
    if (!get32(n)) return Fail("truncated");
    for (uint32_t i = 0; i < n; ++i) {
      if (in.empty()) return Fail("truncated after {} of {} keys", i, n);
      size_t klen = static_cast<uint8_t>(in[0]);
      in.remove_prefix(1);
      if (in.size() < klen) return Fail("truncated after {} of {} keys", i, n);
      std::string key(in.substr(0, klen));
      in.remove_prefix(klen);
      uint32_t rlen = 0;
      if (!get32(rlen) || in.size() < rlen) return Fail("truncated after {} of {} keys", i, n);
      Remember(key, std::string(in.substr(0, rlen)));
      in.remove_prefix(rlen);
    }
    return Ok();
  }

  void Remember(const std::string& key, const std::string& reply) {
    if (key.empty()) return;
    std::lock_guard lock(keys_mu_);
    if (replies_.emplace(key, reply).second) {
      order_.push_back(key);
      if (order_.size() > remembered_keys_) {
        replies_.erase(order_.front());
        order_.pop_front();
      }
    }
  }

  void Finish() {
    std::lock_guard lock(mu_);
    --pending_;
  }

  std::string id_;
  std::string path_;
  codec::DecodeOptions options_;
  bool changes_;
  spec::DurabilitySpec durability_;
  runtime::SourceContext* ctx_ = nullptr;
  std::mutex open_mu_;  ///< opening the log (start-up, or a retry after it could not be opened)
  std::unique_ptr<state::Wal> wal_;
  std::atomic<bool> log_open_{false};  ///< wal_ is set (and stays set)
  int64_t last_open_attempt_ = 0;      ///< MonotonicNanos, under open_mu_
  std::atomic<bool> started_{false};
  std::thread replay_;
  std::mutex mu_;
  bool stopped_ = false;
  int64_t pending_ = 0;
  mutable std::mutex health_mu_;
  std::string health_;
  std::string replay_gap_;  ///< set when the log no longer reached back to the restored position
  mutable std::mutex keys_mu_;
  absl::flat_hash_map<std::string, std::string> replies_;
  std::deque<std::string> order_;  ///< keys of replies_, oldest first
  size_t remembered_keys_;
};

}  // namespace

std::unique_ptr<runtime::Source> MakeHttpSource(const spec::SourceSpec& spec, runtime::PlanContext& ctx) {
  spec::ConfigReader r(spec.config, ctx.diags);
  std::string path = r.String("path", "/api/v1/events");
  codec::DecodeOptions options;
  options.max_event_bytes = static_cast<size_t>(r.Bytes("max_event_bytes", 1 << 20));
  bool changes = r.Bool("changes", false);
  options.envelopes = changes;
  int64_t remembered_keys = r.Int("idempotency_keys", 100'000, 0, 10'000'000);
  r.RejectUnknownKeys({"id", "required"});
  if (path.empty() || path[0] != '/') r.Error("path", "path must start with '/'");
  return std::make_unique<HttpSource>(spec.id, path, options, changes, ctx.pipeline.durability,
                                      static_cast<size_t>(remembered_keys));
}

}  // namespace weir::connectors
