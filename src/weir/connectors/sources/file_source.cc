#include "weir/connectors/sources/file_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
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
    options_.gate = ctx.decode_gate();
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail("cannot open {}: {}", path_, std::strerror(errno));
    struct stat st;
    unsigned char magic[2] = {0, 0};
    bool gzip = ::fstat(fd, &st) == 0 && ::pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    total_bytes_ = static_cast<uint64_t>(st.st_size);
    if (!gzip && st.st_size > 0 && S_ISREG(st.st_mode)) {
      void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        ::madvise(p, static_cast<size_t>(st.st_size), MADV_SEQUENTIAL);
        map_ = std::make_shared<Mapping>();
        map_->data = static_cast<const char*>(p);
        map_->size = static_cast<size_t>(st.st_size);
        map_->fd = ::dup(fd);
      }
    }
    if (!map_) {
      gz_ = gzdopen(::dup(fd), "rb");
      if (!gz_) {
        ::close(fd);
        return Fail("cannot read {}: {}", path_, std::strerror(errno));
      }
      gzbuffer(gz_, 256 * 1024);
    }
    ::close(fd);
    // Resume after what the restored checkpoint covers.
    if (auto pos = ctx.RestoredPosition(0); pos && *pos > 0) {
      if (map_) {
        map_pos_ = std::min<size_t>(static_cast<size_t>(*pos), map_->size);
      } else if (gzseek(gz_, static_cast<z_off_t>(*pos), SEEK_SET) < 0) {
        return Fail("cannot resume {} at byte {}", path_, *pos);
      } else {
        uncompressed_pos_ = static_cast<uint64_t>(*pos);
      }
    }
    thread_ = std::thread([this] { Run(); });
    return Ok();
  }

  void Stop() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    // The last line, once the pipeline is done with every event (decoding runs on the workers,
    // behind the reading): the final counts.
    if (progress_ && !stopped_once_) ShowProgress(ctx_->stats().accepted, MonotonicNanos() - started_, ", done\n");
    stopped_once_ = true;
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
  // Plain files are mapped (no copy through read()); gzip files are inflated chunk by chunk.
  struct Mapping {
    const char* data = nullptr;
    size_t size = 0;
    int fd = -1;  ///< the file, for reads that should not touch the mapping
    ~Mapping() {
      if (data) munmap(const_cast<char*>(data), size);
      if (fd >= 0) ::close(fd);
    }

    /// Bytes [begin, end) are no longer used. Pages are given back once a run of at least
    /// kReleaseBytes from the start of what is still held is unused: each madvise makes every
    /// core running the process flush its TLB, so it is done per several MB, not per chunk
    /// (chunks finish out of order when batches are prepared in parallel).
    void Release(const char* begin, const char* end) {
      constexpr uintptr_t kPage = 4096, kReleaseBytes = 8 << 20;
      std::lock_guard lock(mu);
      if (!reached) reached = given = reinterpret_cast<uintptr_t>(data);
      unused[reinterpret_cast<uintptr_t>(begin)] = reinterpret_cast<uintptr_t>(end);
      while (!unused.empty() && unused.begin()->first <= reached) {
        reached = std::max(reached, unused.begin()->second);
        unused.erase(unused.begin());
      }
      uintptr_t upto = reached & ~(kPage - 1);
      if (upto >= given + kReleaseBytes) {
        ::madvise(reinterpret_cast<void*>(given), upto - given, MADV_DONTNEED);
        given = upto;
      }
    }
    std::mutex mu;
    std::map<uintptr_t, uintptr_t> unused;  ///< finished ranges beyond `reached`, by start
    uintptr_t reached = 0;                  ///< every byte below is unused
    uintptr_t given = 0;                    ///< every page below has been given back
  };

  /// A chunk of the mapping; once every batch using it is gone, its bytes are handed to
  /// Mapping::Release, so that resident memory stays near the chunks in flight, not the file.
  struct MappedRange {
    MappedRange(std::shared_ptr<Mapping> m, const char* b, const char* e) : map(std::move(m)), begin(b), end(e) {}
    MappedRange(const MappedRange&) = delete;
    MappedRange& operator=(const MappedRange&) = delete;
    ~MappedRange() { map->Release(begin, end); }
    std::shared_ptr<Mapping> map;
    const char* begin;
    const char* end;
  };

  /// The next run of whole lines: [begin, end) inside memory kept alive by `hold`, with at
  /// least PaddedBuffer::kPadding readable bytes after `end`. False at the end of input.
  bool NextChunk(std::shared_ptr<const void>& hold, const char*& begin, const char*& end) {
    if (map_) {
      if (map_pos_ >= map_->size) return false;
      size_t want = std::min(map_->size, map_pos_ + chunk_);
      const char* base = map_->data;
      size_t stop = want;
      if (want < map_->size) {
        // The chunk ends after its last newline. Look for it in a copy of the chunk's last bytes
        // (pread), not in the mapping: touching the mapping here would make those pages
        // resident long before the chunk is decoded, for every chunk waiting in the queue.
        char tail[4096];
        const size_t probe = std::min(sizeof tail, want - map_pos_);
        const char* nl = nullptr;
        if (::pread(map_->fd, tail, probe, static_cast<off_t>(want - probe)) == static_cast<ssize_t>(probe)) {
          if (auto* t = static_cast<const char*>(memrchr(tail, '\n', probe))) nl = base + (want - probe) + (t - tail);
        }
        if (!nl) nl = static_cast<const char*>(memrchr(base + map_pos_, '\n', want - map_pos_));
        if (nl) {
          stop = static_cast<size_t>(nl - base) + 1;
        } else {
          const char* next = static_cast<const char*>(std::memchr(base + want, '\n', map_->size - want));
          stop = next ? static_cast<size_t>(next - base) + 1 : map_->size;
        }
      }
      if (stop + codec::PaddedBuffer::kPadding <= map_->size) {
        begin = base + map_pos_;
        end = base + stop;
        hold = std::make_shared<MappedRange>(map_, begin, end);
      } else {
        // The end of the mapping has no padding after it: copy the tail.
        auto buf = codec::PaddedBuffer::Copy(std::string_view(base + map_pos_, stop - map_pos_));
        begin = buf->data();
        end = buf->data() + buf->size();
        hold = buf;
      }
      map_pos_ = stop;
      read_bytes_ = map_pos_;
      return true;
    }
    while (!gz_eof_) {
      auto buf = codec::PaddedBuffer::Allocate(chunk_ + carry_.size());
      std::memcpy(buf->data(), carry_.data(), carry_.size());
      size_t have = carry_.size();
      int n = gzread(gz_, buf->data() + have, static_cast<unsigned>(chunk_));
      if (n < 0) {
        int errnum;
        WEIR_LOG_ERROR("file source: reading {} failed: {}", path_, gzerror(gz_, &errnum));
        return false;
      }
      if (n == 0) gz_eof_ = true;
      have += static_cast<size_t>(n);
      buf->Resize(have);
      size_t stop = have;
      if (!gz_eof_) {
        const char* nl = static_cast<const char*>(memrchr(buf->data(), '\n', have));
        stop = nl ? static_cast<size_t>(nl - buf->data()) + 1 : 0;
      }
      carry_.assign(buf->data() + stop, have - stop);
      read_bytes_ = static_cast<uint64_t>(gzoffset(gz_));
      if (stop == 0) {
        if (carry_.size() > options_.max_event_bytes + chunk_) {
          WEIR_LOG_ERROR("file source: {}: a line after line {} is longer than {} bytes; stopping", path_, lines_done_,
                         carry_.size());
          return false;
        }
        continue;
      }
      begin = buf->data();
      end = buf->data() + stop;
      hold = buf;
      return true;
    }
    return false;
  }

  void Run() {
    auto decoder = ctx_->NewDecoder(options_);
    int64_t started = started_ = MonotonicNanos(), last_progress = 0;
    uint64_t events = 0;
    std::shared_ptr<const void> hold;
    const char* begin = nullptr;
    const char* end = nullptr;
    std::vector<codec::Reject> rejects;
    while (!stop_ && NextChunk(hold, begin, end)) {
      Batch batch(ctx_->layout().width());
      batch.Hold(hold);
      batch.ingest_time = NowMillis();
      batch.bytes = static_cast<size_t>(end - begin);
      if (map_) {
        batch.origin.position = static_cast<int64_t>(end - map_->data);
      } else {
        uncompressed_pos_ += batch.bytes;
        batch.origin.position = static_cast<int64_t>(uncompressed_pos_);
      }
      ctx_->stats().bytes += batch.bytes;
      if (map_) {
        // Decoded by the pipeline's workers, in parallel with reading.
        batch.deferred = [this, begin, end](Batch& b) {
          b.Reserve(static_cast<size_t>(end - begin) / 256 + 16);  // rows of ~300 bytes: no regrowth
          codec::JsonDecoder& dec = codec::ThreadDecoder(ctx_->layout(), options_);
          thread_local std::vector<codec::Reject> found;
          found.clear();
          codec::DecodeStats st = dec.DecodeNdjsonRange(begin, end, b, &found);
          ctx_->stats().accepted += st.events;
          ctx_->stats().rejected += st.rejected;
          if (!found.empty() && logged_ < kLoggedRejects) LogRejects(begin, end, LineOf(begin), found);
        };
      } else {
        rejects.clear();
        codec::DecodeStats st = decoder->DecodeNdjsonRange(begin, end, batch, &rejects);
        if (!rejects.empty()) LogRejects(begin, end, lines_done_ + 1, rejects);
        lines_done_ += st.lines;
        ctx_->stats().accepted += st.events;
        ctx_->stats().rejected += st.rejected;
        if (batch.empty()) continue;
      }
      if (!ctx_->Push(std::move(batch))) break;
      events = ctx_->stats().accepted;
      if (progress_) {
        int64_t now = MonotonicNanos();
        if (now - last_progress > 250'000'000) {
          last_progress = now;
          ShowProgress(events, now - started, "   ");
        }
      }
    }
    if (!stop_) ctx_->EndPartition(0);
  }

  // "\rPATH: READ / TOTAL MB, N events, R events/s", overwriting the previous one.
  void ShowProgress(uint64_t events, int64_t nanos, std::string_view tail) const {
    double secs = static_cast<double>(nanos) / 1e9;
    std::string line = fmt::format("\r{}: {:.1f} / {:.1f} MB, {} events, {:.0f} events/s{}", path_,
                                   static_cast<double>(read_bytes_) / 1e6, static_cast<double>(total_bytes_) / 1e6,
                                   events, secs > 0 ? static_cast<double>(events) / secs : 0.0, tail);
    (void)!write(STDERR_FILENO, line.data(), line.size());
  }

  /// 1-based line number of the line starting at `p` in the mapped file (rare: for messages).
  size_t LineOf(const char* p) {
    std::lock_guard lock(line_mu_);
    const char* from = map_->data;
    size_t line = 1;
    if (line_memo_pos_ && line_memo_pos_ <= p) {
      from = line_memo_pos_;
      line = line_memo_line_;
    }
    for (const char* q = from; (q = static_cast<const char*>(std::memchr(q, '\n', static_cast<size_t>(p - q)))); ++q)
      ++line;
    line_memo_pos_ = p;
    line_memo_line_ = line;
    return line;
  }

  void LogRejects(const char* begin, const char* e, size_t line_base, const std::vector<codec::Reject>& rejects) {
    // Map each reject's index (among non-blank lines) back to a line number.
    size_t idx = 0, line = line_base, r = 0;
    const char* p = begin;
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
  bool stopped_once_ = false;
  int64_t started_ = 0;  ///< MonotonicNanos when reading began
  runtime::SourceContext* ctx_ = nullptr;
  gzFile gz_ = nullptr;
  bool gz_eof_ = false;
  std::string carry_;
  std::shared_ptr<Mapping> map_;
  size_t map_pos_ = 0;
  size_t lines_done_ = 0;
  uint64_t uncompressed_pos_ = 0;  ///< gzip: decompressed bytes handed out so far
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> read_bytes_{0};
  uint64_t total_bytes_ = 0;
  std::atomic<int> logged_{0};
  std::mutex line_mu_;
  const char* line_memo_pos_ = nullptr;
  size_t line_memo_line_ = 1;
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
  // needed: a line is read (and checked) as far as the pipeline needs it; whole: every line is
  // checked whole, as HTTP ingest does.
  options.prefix_reads = r.Enum("check", {"needed", "whole"}, "needed") == "needed";
  std::string progress = r.Enum("progress", {"auto", "true", "false"}, "auto");
  r.RejectUnknownKeys({"id", "required"});
  if (!path.empty()) {
    // Relative paths are relative to the pipeline file.
    std::filesystem::path p(path);
    if (p.is_relative() && !ctx.pipeline.file.empty()) p = std::filesystem::path(ctx.pipeline.file).parent_path() / p;
    path = p.lexically_normal().string();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) r.Error("path", fmt::format("file '{}' does not exist", path));
  }
  if (chunk < 4096) r.Error("chunk_bytes", "chunk_bytes must be at least 4KiB");
  bool show = progress == "true" || (progress == "auto" && isatty(STDERR_FILENO) && !std::getenv("CI"));
  return std::make_unique<FileSource>(path, chunk, options, changes, show);
}

}  // namespace weir::connectors
