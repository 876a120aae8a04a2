#include "weir/connectors/sources/http_source.h"

#include <mutex>

#include <fmt/format.h>

#include "weir/runtime/ingest.h"

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

class HttpSource final : public runtime::Source, public runtime::IngestEndpoint {
 public:
  HttpSource(std::string path, codec::DecodeOptions options, bool changes)
      : path_(std::move(path)), options_(options), changes_(changes) {}

  Status Start(runtime::SourceContext& ctx) override {
    ctx_ = &ctx;
    started_ = true;
    return Ok();
  }
  void Stop() override {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  bool may_retract() const override { return changes_; }
  std::string StatusJson() const override {
    std::string s = ",\"path\":";
    AppendJsonString(s, path_);
    return s;
  }

  const std::string& path() const override { return path_; }

  void Ingest(std::string&& body, std::string_view content_type,
              std::function<void(runtime::IngestReply)> done) override {
    done(Handle(std::move(body), content_type));
  }

 private:
  runtime::IngestReply Handle(std::string&& body, std::string_view content_type) {
    if (!started_) return {503, ErrorJson(503, "the pipeline is starting; retry shortly"), 1};
    std::string_view media = MediaType(content_type);
    bool ndjson = IEquals(media, "application/x-ndjson") || IEquals(media, "application/ndjson") ||
                  IEquals(media, "application/jsonl") || IEquals(media, "application/json-seq");
    bool json = media.empty() || IEquals(media, "application/json") || IEquals(media, "text/json");
    if (!ndjson && !json)
      return {415,
              ErrorJson(415, fmt::format("unsupported content type '{}'; send application/json (one event, "
                                         "{{\"events\":[...]}} or an array) or application/x-ndjson",
                                         content_type)),
              0};
    if (body.find_first_not_of(" \t\r\n") == std::string::npos)
      return {400, ErrorJson(400, "request body is empty; expected JSON events"), 0};

    size_t bytes = body.size();
    auto buf = codec::PaddedBuffer::Adopt(std::move(body));
    Batch batch(ctx_->layout().width());
    batch.Hold(buf);
    batch.ingest_time = NowMillis();
    batch.bytes = bytes;
    std::vector<codec::Reject> rejects;
    codec::DecodeStats st;
    {
      auto decoder = TakeDecoder();
      if (ndjson) {
        st = decoder->DecodeNdjson(*buf, batch, &rejects);
      } else {
        auto r = decoder->DecodeDocument(*buf, batch, &rejects);
        if (!r) {
          GiveBack(std::move(decoder));
          ctx_->stats().rejected++;
          return {400, ErrorJson(400, r.error().message), 0};
        }
        st = *r;
      }
      GiveBack(std::move(decoder));
    }
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
    ctx_->stats().rejected += st.rejected;
    if (st.events == 0) {
      std::string msg = fmt::format("no event in the request was accepted ({} rejected)", st.rejected);
      std::string body400 = ErrorJson(400, msg);
      body400.pop_back();  // extend the error object with the per-event details
      body400 += "," + reply.substr(1);
      return {400, body400, 0};
    }
    {
      std::lock_guard lock(mu_);
      if (stopped_) return {503, ErrorJson(503, "weir is shutting down; retry against another instance"), 5};
      if (!ctx_->TryPush(batch))
        return {503, ErrorJson(503, "the pipeline is at capacity; retry after a moment"), 1};
    }
    ctx_->stats().accepted += st.events;
    ctx_->stats().bytes += bytes;
    return {202, reply, 0};
  }

  std::unique_ptr<codec::JsonDecoder> TakeDecoder() {
    {
      std::lock_guard lock(pool_mu_);
      if (!pool_.empty()) {
        auto d = std::move(pool_.back());
        pool_.pop_back();
        return d;
      }
    }
    return ctx_->NewDecoder(options_);
  }
  void GiveBack(std::unique_ptr<codec::JsonDecoder> d) {
    std::lock_guard lock(pool_mu_);
    pool_.push_back(std::move(d));
  }

  std::string path_;
  codec::DecodeOptions options_;
  bool changes_;
  runtime::SourceContext* ctx_ = nullptr;
  std::atomic<bool> started_{false};
  std::mutex mu_;
  bool stopped_ = false;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<codec::JsonDecoder>> pool_;
};

}  // namespace

std::unique_ptr<runtime::Source> MakeHttpSource(const spec::SourceSpec& spec, runtime::PlanContext& ctx) {
  spec::ConfigReader r(spec.config, ctx.diags);
  std::string path = r.String("path", "/api/v1/events");
  codec::DecodeOptions options;
  options.max_event_bytes = static_cast<size_t>(r.Bytes("max_event_bytes", 1 << 20));
  bool changes = r.Bool("changes", false);
  options.envelopes = changes;
  r.RejectUnknownKeys({"id", "required"});
  if (path.empty() || path[0] != '/') r.Error("path", "path must start with '/'");
  return std::make_unique<HttpSource>(path, options, changes);
}

}  // namespace weir::connectors
