#include "weir/connectors/sources/file_source.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "weir/base/log.h"

namespace weir::connectors {
namespace {

constexpr int kLoggedRejects = 5;

class FileSource final : public runtime::Source {
 public:
  FileSource(std::string path, size_t chunk, codec::DecodeOptions options, bool changes, bool progress)
      : path_(std::move(path)), chunk_(chunk), options_(options), changes_(changes), progress_(progress) {}
  ~FileSource() override { Stop(); }

  Status Start(runtime::SourceContext& ctx) override {
    ctx_ = &ctx;
    gz_ = gzopen(path_.c_str(), "rb");
    if (!gz_) return Fail("cannot open {}: {}", path_, std::strerror(errno));
    gzbuffer(gz_, 256 * 1024);
    std::error_code ec;
    total_bytes_ = std::filesystem::file_size(path_, ec);
    thread_ = std::thread([this] { Run(); });
    return Ok();
  }

  void Stop() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (gz_) {
      gzclose(gz_);
      gz_ = nullptr;
    }
  }

  bool bounded() const override { return true; }
  bool may_retract() const override { return changes_; }
  std::string StatusJson() const override {
    std::string s = ",\"path\":";
    AppendJsonString(s, path_);
    s += fmt::format(",\"bytes_read\":{},\"file_bytes\":{}", read_bytes_.load(), total_bytes_);
    return s;
  }

 private:
  void Run() {
    auto decoder = ctx_->NewDecoder(options_);
    std::string carry;
    size_t line_base = 1;  // line number of the first line in the current chunk
    bool eof = false;
    int64_t started = MonotonicNanos(), last_progress = 0;
    uint64_t events = 0;
    while (!stop_ && !eof) {
      auto buf = codec::PaddedBuffer::Allocate(chunk_ + carry.size());
      std::memcpy(buf->data(), carry.data(), carry.size());
      size_t have = carry.size();
      int n = gzread(gz_, buf->data() + have, static_cast<unsigned>(chunk_));
      if (n < 0) {
        int errnum;
        WEIR_LOG_ERROR("file source: reading {} failed: {}", path_, gzerror(gz_, &errnum));
        break;
      }
      if (n == 0) eof = true;
      have += static_cast<size_t>(n);
      buf->Resize(have);
      // Decode whole lines; keep a trailing partial line for the next chunk.
      size_t end = have;
      if (!eof) {
        const char* nl = static_cast<const char*>(memrchr(buf->data(), '\n', have));
        end = nl ? static_cast<size_t>(nl - buf->data()) + 1 : 0;
      }
      carry.assign(buf->data() + end, have - end);
      if (end == 0) {
        if (carry.size() > options_.max_event_bytes + chunk_) {
          WEIR_LOG_ERROR("file source: {} line {} is longer than {} bytes; stopping", path_, line_base,
                         carry.size());
          break;
        }
        continue;
      }
      Batch batch(ctx_->layout().width());
      batch.Hold(buf);
      batch.ingest_time = NowMillis();
      batch.bytes = end;
      std::vector<codec::Reject> rejects;
      codec::DecodeStats st = decoder->DecodeNdjsonRange(buf->data(), buf->data() + end, batch, &rejects);
      if (!rejects.empty()) LogRejects(*buf, end, line_base, rejects);
      line_base += static_cast<size_t>(std::count(buf->data(), buf->data() + end, '\n'));
      ctx_->stats().accepted += st.events;
      ctx_->stats().rejected += st.rejected;
      ctx_->stats().bytes += end;
      read_bytes_ = static_cast<uint64_t>(gzoffset(gz_));
      events += st.events;
      if (!batch.empty() && !ctx_->Push(std::move(batch))) break;
      if (progress_) {
        int64_t now = MonotonicNanos();
        if (now - last_progress > 250'000'000 || eof) {
          last_progress = now;
          double secs = static_cast<double>(now - started) / 1e9;
          std::string line = fmt::format("\r{}: {:.1f} / {:.1f} MB, {} events, {:.0f} events/s   ", path_,
                                         static_cast<double>(read_bytes_) / 1e6, static_cast<double>(total_bytes_) / 1e6,
                                         events, secs > 0 ? static_cast<double>(events) / secs : 0.0);
          (void)!write(STDERR_FILENO, line.data(), line.size());
        }
      }
    }
    if (progress_) (void)!write(STDERR_FILENO, "\n", 1);
    if (!stop_) ctx_->EndPartition(0);
  }

  void LogRejects(const codec::PaddedBuffer& buf, size_t end, size_t line_base, const std::vector<codec::Reject>& rejects) {
    // Map each reject's index (among non-blank lines) back to a line number.
    size_t idx = 0, line = line_base, r = 0;
    const char* p = buf.data();
    const char* e = buf.data() + end;
    while (p < e && r < rejects.size()) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(e - p)));
      const char* le = nl ? nl : e;
      bool blank = std::all_of(p, le, [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
      if (!blank) {
        if (idx == rejects[r].index) {
          if (logged_ < kLoggedRejects) {
            WEIR_LOG_WARN("{}:{}: rejected: {}", path_, line, rejects[r].reason);
            if (++logged_ == kLoggedRejects) WEIR_LOG_WARN("{}: further rejected lines are counted, not logged", path_);
          }
          ++r;
        }
        ++idx;
      }
      ++line;
      p = nl ? nl + 1 : e;
    }
  }

  std::string path_;
  size_t chunk_;
  codec::DecodeOptions options_;
  bool changes_;
  bool progress_;
  runtime::SourceContext* ctx_ = nullptr;
  gzFile gz_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> read_bytes_{0};
  uint64_t total_bytes_ = 0;
  int logged_ = 0;
};

}  // namespace

std::unique_ptr<runtime::Source> MakeFileSource(const spec::SourceSpec& spec, runtime::PlanContext& ctx) {
  spec::ConfigReader r(spec.config, ctx.diags);
  std::string path = r.RequiredString("path");
  codec::DecodeOptions options;
  options.max_event_bytes = static_cast<size_t>(r.Bytes("max_event_bytes", 1 << 20));
  size_t chunk = static_cast<size_t>(r.Bytes("chunk_bytes", 1 << 20));
  bool changes = r.Bool("changes", false);
  options.envelopes = changes;
  std::string progress = r.Enum("progress", {"auto", "true", "false"}, "auto");
  r.RejectUnknownKeys({"id", "required"});
  if (!path.empty()) {
    // Relative paths are relative to the pipeline file.
    std::filesystem::path p(path);
    if (p.is_relative() && !ctx.pipeline.file.empty())
      p = std::filesystem::path(ctx.pipeline.file).parent_path() / p;
    path = p.lexically_normal().string();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) r.Error("path", fmt::format("file '{}' does not exist", path));
  }
  if (chunk < 4096) r.Error("chunk_bytes", "chunk_bytes must be at least 4KiB");
  bool show = progress == "true" || (progress == "auto" && isatty(STDERR_FILENO) && !std::getenv("CI"));
  return std::make_unique<FileSource>(path, chunk, options, changes, show);
}

}  // namespace weir::connectors
