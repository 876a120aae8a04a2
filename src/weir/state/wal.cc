// The write-ahead log: record encoding, recovery of the newest segment, the group-commit
// flusher and replay readers. Format and policies: src/weir/state/README.md.
#include "weir/state/wal.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

#include "weir/base/hash.h"
#include "weir/base/log.h"

namespace weir::state {

static_assert(std::endian::native == std::endian::little,
              "the WAL format is little-endian; add byte swaps before porting");

namespace {

// Record layout (little-endian):
//   0  u32 magic     kMagic; lets recovery find record starts after a damaged one
//   4  u64 checksum  XXH3-64 of bytes [12, 20 + length) seeded with the record's LSN
//  12  u32 length    payload bytes
//  16  u32 tag       caller-defined (source id, partition, ...)
//  20  payload
constexpr uint32_t kMagic = 0x014C57E7;  // on disk: E7 'W' 'L' 01 (format version 1)
constexpr size_t kChecksumAt = 4;
constexpr size_t kLengthAt = 12;
constexpr size_t kTagAt = 16;
constexpr size_t kReadChunk = 1 << 20;
// A group buffer that grew past this during a burst is released rather than kept for reuse.
constexpr size_t kKeepGroupCapacity = 8 << 20;
constexpr size_t kLsnDigits = 20;
constexpr std::string_view kSegmentSuffix = ".wal";
constexpr std::string_view kQuarantineSuffix = ".corrupt";
constexpr std::string_view kTmpSuffix = ".tmp";

uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void Store32(char* p, uint32_t v) { std::memcpy(p, &v, sizeof v); }
void Store64(char* p, uint64_t v) { std::memcpy(p, &v, sizeof v); }

// Seeding with the LSN makes a record valid only at the position it was written to: stale bytes
// from an older file and a reader started inside a record both fail the check.
uint64_t Checksum(Lsn lsn, const char* length_field, size_t payload_bytes) {
  return XXH3_64bits_withSeed(length_field, 8 + payload_bytes, lsn);
}

std::string ErrnoText(int e) { return std::error_code(e, std::generic_category()).message(); }

std::unexpected<Error> IoFail(std::string_view what, const std::string& path, int e) {
  return Fail("WAL {} {}: {}", what, path, ErrnoText(e));
}

std::string LsnName(Lsn lsn) { return fmt::format("{:020}", lsn); }

std::optional<Lsn> ParseLsnName(std::string_view name, std::string_view suffix) {
  if (name.size() != kLsnDigits + suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  Lsn v = 0;
  for (size_t i = 0; i < kLsnDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, Lsn(c - '0'), &v)) return std::nullopt;
  }
  return v;
}

/// Closes a file descriptor on scope exit unless released.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

enum class Parse { kOk, kShortHeader, kBadMagic, kShortPayload, kBadChecksum };

std::string_view ParseReason(Parse p) {
  switch (p) {
    case Parse::kOk:
      return "valid record";
    case Parse::kShortHeader:
      return "partial record header (torn write)";
    case Parse::kBadMagic:
      return "bad record magic";
    case Parse::kShortPayload:
      return "record runs past the end of the data (torn write or damaged length)";
    case Parse::kBadChecksum:
      return "checksum mismatch";
  }
  return "unknown";
}

}  // namespace

/// Buffered pread access to one segment file, addressed by LSN. It never reads at or past the
/// caller's limit, so bytes the flusher is still writing are never seen half-written.
class SegmentBuffer {
 public:
  void Reset(int fd, Lsn seg_start, std::string path) {
    fd_ = fd;
    seg_start_ = seg_start;
    path_ = std::move(path);
    buf_lsn_ = seg_start;
    len_ = 0;
  }

  /// Makes [pos, pos + n) readable at At(pos); requires pos + n <= limit. Reads ahead up to
  /// `limit` so sequential records cost one pread per chunk.
  Status Fill(Lsn pos, size_t n, Lsn limit) {
    if (pos >= buf_lsn_ && pos + n <= buf_lsn_ + len_) return Ok();
    size_t keep = 0;
    if (pos >= buf_lsn_ && pos < buf_lsn_ + len_) keep = buf_lsn_ + len_ - pos;
    const size_t want = std::max(n, kReadChunk);
    if (want > cap_) {
      auto bigger = std::make_unique_for_overwrite<char[]>(want);
      if (keep > 0) std::memcpy(bigger.get(), At(pos), keep);
      buf_ = std::move(bigger);
      cap_ = want;
    } else if (keep > 0 && pos != buf_lsn_) {
      std::memmove(buf_.get(), At(pos), keep);
    }
    buf_lsn_ = pos;
    len_ = keep;
    const Lsn read_from = pos + len_;
    const size_t room = limit > read_from ? std::min<uint64_t>(cap_ - len_, limit - read_from) : 0;
    size_t got = 0;
    while (got < room) {
      const ssize_t r =
          ::pread(fd_, buf_.get() + len_ + got, room - got, static_cast<off_t>(read_from + got - seg_start_));
      if (r < 0) {
        if (errno == EINTR) continue;
        return IoFail("read from", path_, errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    len_ += got;
    if (len_ < n) {
      return Fail("WAL segment {} ends at LSN {}, inside the {} bytes expected at LSN {}", path_, pos + len_, n, pos);
    }
    return Ok();
  }

  const char* At(Lsn pos) const { return buf_.get() + (pos - buf_lsn_); }

 private:
  int fd_ = -1;
  Lsn seg_start_ = 0;
  std::string path_;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  Lsn buf_lsn_ = 0;  ///< LSN of buf_[0]
  size_t len_ = 0;
};

namespace {

struct RawRecord {
  uint32_t tag = 0;
  uint32_t length = 0;
  const char* payload = nullptr;
};

// Checks the record starting at `pos` without reading at or past `limit`. An I/O error is an
// error; a record that is not valid is a Parse value saying why.
Result<Parse> ParseAt(SegmentBuffer& b, Lsn pos, Lsn limit, RawRecord& out) {
  if (limit - pos < kWalHeaderBytes) return Parse::kShortHeader;
  WEIR_RETURN_IF_ERROR(b.Fill(pos, kWalHeaderBytes, limit));
  const char* h = b.At(pos);
  if (Load32(h) != kMagic) return Parse::kBadMagic;
  const uint32_t length = Load32(h + kLengthAt);
  if (limit - pos - kWalHeaderBytes < length) return Parse::kShortPayload;
  WEIR_RETURN_IF_ERROR(b.Fill(pos, kWalHeaderBytes + length, limit));
  h = b.At(pos);
  if (Checksum(pos, h + kLengthAt, length) != Load64(h + kChecksumAt)) return Parse::kBadChecksum;
  out.tag = Load32(h + kTagAt);
  out.length = length;
  out.payload = h + kWalHeaderBytes;
  return Parse::kOk;
}

struct Scan {
  Lsn end = 0;              ///< where the run of valid records ends
  Parse stop = Parse::kOk;  ///< why it ended (kOk: at the limit)
  uint64_t records = 0;
};

// Walks whole records from `pos` until `limit` or the first one that is not valid.
Result<Scan> ScanRecords(SegmentBuffer& b, Lsn pos, Lsn limit) {
  Scan s{.end = pos};
  RawRecord r;
  while (s.end < limit) {
    WEIR_ASSIGN_OR_RETURN(Parse p, ParseAt(b, s.end, limit, r));
    if (p != Parse::kOk) {
      s.stop = p;
      return s;
    }
    s.end += kWalHeaderBytes + r.length;
    ++s.records;
  }
  return s;
}

// The first LSN in [from, limit) where a valid record starts: candidates are found by their
// magic, then checked in full (the LSN-seeded checksum rules out stale or shifted copies).
Result<std::optional<Lsn>> FindValidRecord(int fd, Lsn seg_start, const std::string& path, Lsn from, Lsn limit) {
  SegmentBuffer scan, check;
  scan.Reset(fd, seg_start, path);
  check.Reset(fd, seg_start, path);
  char magic[4];
  Store32(magic, kMagic);
  Lsn p = from;
  while (p + kWalHeaderBytes <= limit) {
    const size_t n = std::min<uint64_t>(kReadChunk, limit - p);
    WEIR_RETURN_IF_ERROR(scan.Fill(p, n, limit));
    const char* base = scan.At(p);
    const char* cur = base;
    const char* end = base + n;
    while (cur < end) {
      const void* hit = ::memmem(cur, static_cast<size_t>(end - cur), magic, sizeof magic);
      if (hit == nullptr) break;
      const Lsn q = p + static_cast<Lsn>(static_cast<const char*>(hit) - base);
      RawRecord r;
      WEIR_ASSIGN_OR_RETURN(Parse parsed, ParseAt(check, q, limit, r));
      if (parsed == Parse::kOk) return std::optional<Lsn>(q);
      cur = static_cast<const char*>(hit) + 1;
    }
    if (p + n >= limit) break;
    p += n - (sizeof magic - 1);  // a magic may straddle the chunk boundary
  }
  return std::optional<Lsn>();
}

Result<bool> IsAllZero(SegmentBuffer& b, Lsn from, Lsn limit) {
  for (Lsn p = from; p < limit;) {
    const size_t n = std::min<uint64_t>(kReadChunk, limit - p);
    WEIR_RETURN_IF_ERROR(b.Fill(p, n, limit));
    const char* d = b.At(p);
    if (d[0] != 0 || (n > 1 && std::memcmp(d, d + 1, n - 1) != 0)) return false;
    p += n;
  }
  return true;
}

}  // namespace

std::string_view RecoveryActionName(RecoveryAction a) {
  switch (a) {
    case RecoveryAction::kClean:
      return "clean";
    case RecoveryAction::kCutTornRecord:
      return "cut_torn_record";
    case RecoveryAction::kCutZeroTail:
      return "cut_zero_tail";
    case RecoveryAction::kCutCorruptTail:
      return "cut_corrupt_tail";
    case RecoveryAction::kQuarantined:
      return "quarantined";
  }
  return "unknown";
}

std::string RecoveryReport::ToString() const {
  std::string s;
  switch (action) {
    case RecoveryAction::kClean:
      s = fmt::format("WAL recovered cleanly ({} records in the newest segment); appending at LSN {}", records_scanned,
                      end_lsn);
      break;
    case RecoveryAction::kCutTornRecord:
    case RecoveryAction::kCutZeroTail:
    case RecoveryAction::kCutCorruptTail:
      s = fmt::format("WAL cut {} bytes at LSN {} of {} ({}: {}); appending at LSN {}", bytes_cut, cut_at, segment,
                      RecoveryActionName(action), reason, end_lsn);
      break;
    case RecoveryAction::kQuarantined:
      s = fmt::format(
          "WAL segment {} is corrupt at LSN {} ({}) with {} valid records after it: moved {} bytes to {}; "
          "replay passes over LSNs [{}, {}) and appending resumes at LSN {}",
          segment, cut_at, reason, records_after, bytes_cut, quarantine_path, cut_at, cut_at + bytes_cut, end_lsn);
      break;
  }
  for (const LsnRange& m : missing) s += fmt::format("; data missing between LSN {} and {}", m.begin, m.end);
  return s;
}

std::string Wal::SegmentFileName(Lsn start) { return LsnName(start) + std::string(kSegmentSuffix); }

std::string Wal::PathOf(Lsn start) const { return options_.dir + "/" + SegmentFileName(start); }

Wal::Wal(WalOptions options) : options_(std::move(options)) {}

Wal::~Wal() { Close(); }

Result<std::unique_ptr<Wal>> Wal::Open(WalOptions options) {
  if (options.dir.empty()) return Fail("WAL: no directory given");
  if (options.segment_bytes == 0) return Fail("WAL {}: segment_bytes must be positive", options.dir);
  if (options.max_record_bytes > std::numeric_limits<uint32_t>::max()) {
    return Fail("WAL {}: max_record_bytes must be below 4 GiB", options.dir);
  }
  if (options.fsync_interval < 0) return Fail("WAL {}: fsync_interval must not be negative", options.dir);
  std::unique_ptr<Wal> wal(new Wal(std::move(options)));
  WEIR_RETURN_IF_ERROR(wal->Recover());
  wal->flusher_ = std::thread([w = wal.get()] { w->FlusherLoop(); });
  return wal;
}

Status Wal::Recover() {
  namespace fs = std::filesystem;
  const std::string& dir = options_.dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail("WAL cannot create directory {}: {}", dir, ec.message());
  dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) return IoFail("cannot open directory", dir, errno);
  const std::string lock_path = dir + "/LOCK";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return IoFail("cannot open lock file", lock_path, errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return Fail("WAL directory {} is already open (in this or another process)", dir);
    return IoFail("cannot lock", lock_path, errno);
  }

  std::vector<std::pair<Lsn, uint64_t>> found;  // segment start, file size
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::string path = it->path().string();
    const std::optional<Lsn> seg = ParseLsnName(name, kSegmentSuffix);
    const std::optional<Lsn> quarantine = ParseLsnName(name, kQuarantineSuffix);
    if (!seg && !quarantine) {
      // Left by a quarantine that was interrupted before its rename; recovery redoes it.
      if (name.ends_with(kTmpSuffix) &&
          ParseLsnName(name.substr(0, name.size() - kTmpSuffix.size()), kQuarantineSuffix)) {
        ::unlink(path.c_str());
      }
      continue;
    }
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return IoFail("cannot stat", path, errno);
    if (!S_ISREG(st.st_mode)) return Fail("WAL file {} is not a regular file", path);
    if (seg) found.emplace_back(*seg, static_cast<uint64_t>(st.st_size));
    if (quarantine) quarantined_[*quarantine] = static_cast<uint64_t>(st.st_size);
  }
  if (ec) return Fail("WAL cannot list directory {}: {}", dir, ec.message());
  std::sort(found.begin(), found.end());

  if (found.empty()) {
    WEIR_RETURN_IF_ERROR(StartSegment(0));
    recovery_.end_lsn = 0;
    return Ok();
  }

  // Sealed segments were fdatasync'ed before the next one was created: trust their size.
  for (size_t i = 0; i + 1 < found.size(); ++i) {
    const auto [start, size] = found[i];
    const Lsn end = start + size;
    const Lsn next = found[i + 1].first;
    if (end > next) {
      return Fail("WAL segments {} and {} overlap: the directory is inconsistent", PathOf(start), PathOf(next));
    }
    segments_.push_back({.start = start, .end = end, .sealed = true});
    if (end < next && !IsQuarantined({end, next})) {
      recovery_.missing.push_back({end, next});
      WEIR_LOG_ERROR("WAL {}: LSNs [{}, {}) are missing between {} and {}", dir, end, next, PathOf(start),
                     PathOf(next));
    }
  }

  // The newest segment is where a crash leaves a torn write: scan it and cut at the last whole record.
  const auto [start, size] = found.back();
  const std::string path = PathOf(start);
  active_fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (active_fd_ < 0) return IoFail("cannot open segment", path, errno);
  active_start_ = start;
  const Lsn file_end = start + size;
  SegmentBuffer buf;
  buf.Reset(active_fd_, start, path);
  WEIR_ASSIGN_OR_RETURN(const Scan scan, ScanRecords(buf, start, file_end));
  recovery_.records_scanned = scan.records;
  const Lsn end = scan.end;
  if (end < file_end) {
    recovery_.segment = path;
    recovery_.cut_at = end;
    recovery_.bytes_cut = file_end - end;
    recovery_.reason = std::string(ParseReason(scan.stop));
    WEIR_ASSIGN_OR_RETURN(const std::optional<Lsn> later, FindValidRecord(active_fd_, start, path, end + 1, file_end));
    if (later) {
      SegmentBuffer rest;
      rest.Reset(active_fd_, start, path);
      WEIR_ASSIGN_OR_RETURN(const Scan after, ScanRecords(rest, *later, file_end));
      recovery_.records_after = after.records;
      if (options_.on_corruption == CorruptionPolicy::kFail) {
        return Fail(
            "WAL segment {} is corrupt at LSN {} (file offset {}: {}) and {} valid records follow it; not opening "
            "(on_corruption = fail). Move the directory aside, or open with on_corruption = quarantine to keep "
            "the bytes from LSN {} on in {}.corrupt and go on",
            path, end, end - start, recovery_.reason, after.records, end, LsnName(end));
      }
      WEIR_RETURN_IF_ERROR(QuarantineAndCut(active_fd_, start, end, file_end));
      recovery_.action = RecoveryAction::kQuarantined;
    } else {
      WEIR_ASSIGN_OR_RETURN(const bool zeros, IsAllZero(buf, end, file_end));
      if (zeros) {
        recovery_.action = RecoveryAction::kCutZeroTail;
        recovery_.reason = "zero bytes after the last record";
      } else if (scan.stop == Parse::kShortHeader || scan.stop == Parse::kShortPayload) {
        recovery_.action = RecoveryAction::kCutTornRecord;
      } else {
        recovery_.action = RecoveryAction::kCutCorruptTail;
      }
      if (::ftruncate(active_fd_, static_cast<off_t>(end - start)) != 0) {
        return IoFail("cannot truncate segment", path, errno);
      }
    }
  }
  // What a crashed process wrote may still be only in the page cache: make it durable before
  // anything is acknowledged on top of it.
  if (::fdatasync(active_fd_) != 0) return IoFail("cannot fdatasync segment", path, errno);
  active_end_ = end;
  segments_.push_back({.start = start});
  next_lsn_ = durable_end_ = end;
  append_seg_start_ = start;

  // A quarantine file that begins where the log ends covers LSNs that were handed out before:
  // continue after it so an LSN never names two different records (also completes a quarantine
  // interrupted between cutting the segment and starting the next one).
  if (auto q = quarantined_.find(end); q != quarantined_.end() && q->second > 0) {
    const Lsn resume = end + q->second;
    WEIR_RETURN_IF_ERROR(StartSegment(resume));
    next_lsn_ = durable_end_ = append_seg_start_ = resume;
  }
  recovery_.end_lsn = next_lsn_;
  if (recovery_.action == RecoveryAction::kQuarantined) {
    WEIR_LOG_ERROR("{}", recovery_.ToString());
  } else if (recovery_.action != RecoveryAction::kClean) {
    WEIR_LOG_WARN("{}", recovery_.ToString());
  }
  return Ok();
}

Status Wal::QuarantineAndCut(int fd, Lsn seg_start, Lsn cut_at, Lsn file_end) {
  const std::string final_path = options_.dir + "/" + LsnName(cut_at) + std::string(kQuarantineSuffix);
  const std::string tmp_path = final_path + std::string(kTmpSuffix);
  {
    FdGuard out{::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (out.fd < 0) return IoFail("cannot create", tmp_path, errno);
    auto chunk = std::make_unique_for_overwrite<char[]>(kReadChunk);
    for (Lsn p = cut_at; p < file_end;) {
      const ssize_t r =
          ::pread(fd, chunk.get(), std::min<uint64_t>(kReadChunk, file_end - p), static_cast<off_t>(p - seg_start));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return IoFail("read from", PathOf(seg_start), errno);
      if (r == 0) return Fail("WAL segment {} shrank while being quarantined", PathOf(seg_start));
      for (ssize_t done = 0; done < r;) {
        const ssize_t w = ::write(out.fd, chunk.get() + done, static_cast<size_t>(r - done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return IoFail("write to", tmp_path, w < 0 ? errno : ENOSPC);
        done += w;
      }
      p += static_cast<Lsn>(r);
    }
    if (::fdatasync(out.fd) != 0) return IoFail("cannot fdatasync", tmp_path, errno);
  }
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) return IoFail("cannot rename", tmp_path, errno);
  if (::fsync(dir_fd_) != 0) return IoFail("cannot fsync directory", options_.dir, errno);
  // Only now that the bytes are safe elsewhere does the segment lose them.
  if (::ftruncate(fd, static_cast<off_t>(cut_at - seg_start)) != 0) {
    return IoFail("cannot truncate segment", PathOf(seg_start), errno);
  }
  quarantined_[cut_at] = file_end - cut_at;
  recovery_.quarantine_path = final_path;
  return Ok();
}

Status Wal::StartSegment(Lsn start) {
  const std::string path = PathOf(start);
  // O_EXCL: a file already there means the directory does not match what this process believes.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return IoFail("cannot create segment", path, errno);
  if (::fsync(dir_fd_) != 0) {
    const int e = errno;
    ::close(fd);
    return IoFail("cannot fsync directory", options_.dir, e);
  }
  if (active_fd_ >= 0) ::close(active_fd_);
  const Lsn sealed_end = active_end_;
  active_fd_ = fd;
  active_start_ = start;
  active_end_ = start;
  std::lock_guard lock(mu_);
  if (!segments_.empty() && !segments_.back().sealed) {
    segments_.back().sealed = true;
    segments_.back().end = sealed_end;
  }
  segments_.push_back({.start = start});
  return Ok();
}

Status Wal::SyncActive() {
  if (!unsynced_) return Ok();
  // The kInterval window counts from the start of the previous fdatasync, so a sync slower than
  // the interval is followed at once by the next one instead of by a further wait.
  const auto started = std::chrono::steady_clock::now();
  const int64_t t0 = MonotonicNanos();
  if (::fdatasync(active_fd_) != 0) return IoFail("fdatasync failed on", PathOf(active_start_), errno);
  const int64_t took = MonotonicNanos() - t0;
  unsynced_ = false;
  last_sync_ = started;
  std::lock_guard lock(mu_);
  ++stats_.fsyncs;
  stats_.last_fsync_nanos = took;
  stats_.max_fsync_nanos = std::max(stats_.max_fsync_nanos, took);
  return Ok();
}

Status Wal::WriteBytes(const char* data, size_t n) {
  size_t allowed = n;
  bool inject = false;
  if (options_.test_fail_after_bytes && written_total_ + n > *options_.test_fail_after_bytes) {
    allowed = *options_.test_fail_after_bytes > written_total_ ? *options_.test_fail_after_bytes - written_total_ : 0;
    inject = true;
  }
  for (size_t done = 0; done < allowed;) {
    const ssize_t r =
        ::pwrite(active_fd_, data + done, allowed - done, static_cast<off_t>(active_end_ - active_start_));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return IoFail("write to", PathOf(active_start_), r < 0 ? errno : ENOSPC);
    done += static_cast<size_t>(r);
    active_end_ += static_cast<Lsn>(r);
    written_total_ += static_cast<uint64_t>(r);
    unsynced_ = true;
  }
  if (inject) {
    return Fail("WAL write to {}: {} (injected by WalOptions::test_fail_after_bytes)", PathOf(active_start_),
                ErrnoText(ENOSPC));
  }
  return Ok();
}

Status Wal::WriteGroup(const Group& g) {
  size_t off = 0;
  for (const Lsn roll : g.rolls) {
    const size_t upto = roll - g.start;
    WEIR_RETURN_IF_ERROR(WriteBytes(g.bytes.data() + off, upto - off));
    off = upto;
    // A sealed segment is whole on disk in every fsync mode, so recovery only rescans the newest.
    WEIR_RETURN_IF_ERROR(SyncActive());
    WEIR_RETURN_IF_ERROR(StartSegment(roll));
  }
  WEIR_RETURN_IF_ERROR(WriteBytes(g.bytes.data() + off, g.bytes.size() - off));
  if (options_.fsync != FsyncMode::kNever) WEIR_RETURN_IF_ERROR(SyncActive());
  return Ok();
}

void Wal::FlusherLoop() {
  ::pthread_setname_np(::pthread_self(), "weir-wal");
  const auto interval = std::chrono::milliseconds(options_.fsync_interval);
  std::unique_lock lock(mu_);
  for (;;) {
    flusher_idle_ = true;
    work_cv_.wait(lock, [&] { return !pending_.waiters.empty() || closing_; });
    flusher_idle_ = false;
    if (options_.fsync == FsyncMode::kInterval && !closing_ && !failed_) {
      // The group commit window: appends keep joining this group until one interval after the
      // previous fdatasync began (no wait at all after an idle spell).
      work_cv_.wait_until(lock, last_sync_ + interval, [&] { return closing_; });
    }
    if (pending_.waiters.empty()) {
      if (closing_) break;
      continue;
    }
    std::swap(pending_, inflight_);
    pending_bytes_ = 0;
    if (space_waiters_ > 0) space_cv_.notify_all();
    const std::optional<Error> failed = failed_;
    lock.unlock();

    const Status st = failed ? Status(std::unexpected(*failed)) : WriteGroup(inflight_);
    const Lsn group_end = inflight_.waiters.back().next;
    lock.lock();
    ++stats_.groups;
    if (st) {
      durable_end_ = group_end;
    } else if (!failed_) {
      failed_ = st.error();
      stats_.failed = true;
      space_cv_.notify_all();
      WEIR_LOG_ERROR("{}; the WAL accepts no appends until it is reopened", st.error().message);
    }
    lock.unlock();
    for (Waiter& w : inflight_.waiters) {
      if (w.callback) w.callback(st, st ? w.next : 0);
    }
    inflight_.waiters.clear();
    inflight_.rolls.clear();
    if (inflight_.bytes.capacity() > kKeepGroupCapacity) {
      inflight_.bytes = std::string();
    } else {
      inflight_.bytes.clear();
    }
    lock.lock();
  }
  const bool failed = failed_.has_value();
  lock.unlock();
  // Close promises durability in every mode, kNever included.
  if (!failed) {
    if (auto st = SyncActive(); !st) WEIR_LOG_ERROR("WAL close: {}", st.error().message);
  }
}

void Wal::Append(uint32_t tag, std::string_view payload, DurableCallback durable) {
  if (payload.size() > options_.max_record_bytes) {
    if (durable) {
      durable(Fail("WAL record of {} bytes exceeds max_record_bytes ({})", payload.size(), options_.max_record_bytes),
              0);
    }
    return;
  }
  const size_t size = kWalHeaderBytes + payload.size();
  std::unique_lock lock(mu_);
  while (pending_bytes_ >= options_.max_pending_bytes && !pending_.waiters.empty() && !closing_ && !failed_) {
    ++space_waiters_;
    space_cv_.wait(lock);
    --space_waiters_;
  }
  if (closing_ || failed_) {
    Error e = failed_ ? *failed_ : Error(fmt::format("WAL {} is closed", options_.dir));
    lock.unlock();
    if (durable) durable(std::unexpected(std::move(e)), 0);
    return;
  }
  const Lsn lsn = next_lsn_;
  if (lsn > append_seg_start_ && lsn - append_seg_start_ + size > options_.segment_bytes) {
    append_seg_start_ = lsn;
    pending_.rolls.push_back(lsn);
  }
  if (pending_.waiters.empty()) pending_.start = lsn;
  std::string& out = pending_.bytes;
  const size_t at = out.size();
  char header[kWalHeaderBytes];
  Store32(header, kMagic);
  Store64(header + kChecksumAt, 0);
  Store32(header + kLengthAt, static_cast<uint32_t>(payload.size()));
  Store32(header + kTagAt, tag);
  out.append(header, kWalHeaderBytes);
  out.append(payload);
  Store64(out.data() + at + kChecksumAt, Checksum(lsn, out.data() + at + kLengthAt, payload.size()));
  next_lsn_ = lsn + size;
  pending_.waiters.push_back({next_lsn_, std::move(durable)});
  pending_bytes_ += size;
  ++stats_.appends;
  stats_.appended_bytes += size;
  const bool wake = flusher_idle_;
  lock.unlock();
  if (wake) work_cv_.notify_one();
}

Result<Lsn> Wal::AppendSync(uint32_t tag, std::string_view payload) {
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Status status;
    Lsn next = 0;
  } d;
  Append(tag, payload, [&d](Status st, Lsn next) {
    // Notify under the lock: once it is released the waiter may return and destroy `d`.
    std::lock_guard g(d.mu);
    d.status = std::move(st);
    d.next = next;
    d.done = true;
    d.cv.notify_one();
  });
  std::unique_lock lock(d.mu);
  d.cv.wait(lock, [&] { return d.done; });
  if (!d.status) return std::unexpected(std::move(d.status).error());
  return d.next;
}

Lsn Wal::first_lsn() const {
  std::lock_guard lock(mu_);
  return segments_.front().start;
}

Lsn Wal::end_lsn() const {
  std::lock_guard lock(mu_);
  return durable_end_;
}

WalStats Wal::stats() const {
  std::lock_guard lock(mu_);
  WalStats s = stats_;
  s.segments = segments_.size();
  s.pending_bytes = pending_bytes_;
  return s;
}

Status Wal::TruncateBefore(Lsn lsn) {
  std::vector<Lsn> doomed;
  {
    std::lock_guard lock(mu_);
    if (lsn > durable_end_) {
      return Fail("WAL {}: cannot truncate before LSN {}, past the durable end {}", options_.dir, lsn, durable_end_);
    }
    while (segments_.size() > 1 && segments_.front().sealed && segments_.front().end <= lsn) {
      doomed.push_back(segments_.front().start);
      segments_.erase(segments_.begin());
    }
  }
  std::string errors;
  for (const Lsn start : doomed) {
    const std::string path = PathOf(start);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      errors += fmt::format("{}cannot delete {}: {}", errors.empty() ? "" : "; ", path, ErrnoText(errno));
    }
  }
  if (!errors.empty()) return Fail("WAL truncate: {}", errors);
  return Ok();
}

void Wal::Close() {
  std::lock_guard close_lock(close_mu_);
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  for (int* fd : {&active_fd_, &dir_fd_, &lock_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

Wal::SegmentView Wal::ViewSegment(Lsn start) const {
  std::lock_guard lock(mu_);
  auto it =
      std::lower_bound(segments_.begin(), segments_.end(), start, [](const Segment& s, Lsn v) { return s.start < v; });
  SegmentView v;
  if (it == segments_.end() || it->start != start) return v;
  v.found = true;
  v.sealed = it->sealed;
  v.end = it->end;
  v.limit = std::max(start, it->sealed ? std::min(it->end, durable_end_) : durable_end_);
  return v;
}

std::optional<Lsn> Wal::SegmentAfter(Lsn start) const {
  std::lock_guard lock(mu_);
  auto it =
      std::upper_bound(segments_.begin(), segments_.end(), start, [](Lsn v, const Segment& s) { return v < s.start; });
  if (it == segments_.end()) return std::nullopt;
  return it->start;
}

bool Wal::IsQuarantined(LsnRange r) const {
  auto it = quarantined_.find(r.begin);
  return it != quarantined_.end() && it->second == r.end - r.begin;
}

Result<std::unique_ptr<Wal::Reader>> Wal::Read(Lsn from) const {
  Lsn seg_start = 0;
  {
    std::lock_guard lock(mu_);
    const Lsn first = segments_.front().start;
    if (from < first) return Fail("WAL {}: LSN {} was truncated away (oldest retained: {})", options_.dir, from, first);
    if (from > durable_end_) {
      return Fail("WAL {}: LSN {} is past the end of the log ({})", options_.dir, from, durable_end_);
    }
    auto it =
        std::upper_bound(segments_.begin(), segments_.end(), from, [](Lsn v, const Segment& s) { return v < s.start; });
    --it;  // exists: from >= first
    if (it->sealed && from > it->end) {
      return Fail("WAL {}: LSN {} lies in [{}, {}), a range that holds no records", options_.dir, from, it->end,
                  std::next(it)->start);
    }
    seg_start = it->start;
  }
  std::unique_ptr<Reader> reader(new Reader(this, from));
  WEIR_RETURN_IF_ERROR(reader->OpenSegment(seg_start));
  return reader;
}

Wal::Reader::Reader(const Wal* wal, Lsn from) : wal_(wal), pos_(from), buf_(std::make_unique<SegmentBuffer>()) {}

Wal::Reader::~Reader() {
  if (fd_ >= 0) ::close(fd_);
}

Status Wal::Reader::OpenSegment(Lsn start) {
  if (fd_ >= 0) ::close(fd_);
  path_ = wal_->PathOf(start);
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return IoFail("cannot open segment", path_, errno);
  seg_start_ = start;
  limit_ = start;
  buf_->Reset(fd_, start, path_);
  return Ok();
}

Result<bool> Wal::Reader::Next(WalRecord& out) {
  if (error_) return std::unexpected(*error_);
  auto fail = [&](Error e) -> Result<bool> {
    error_ = e;
    return std::unexpected(std::move(e));
  };
  for (;;) {
    if (pos_ >= limit_) {
      const SegmentView v = wal_->ViewSegment(seg_start_);
      if (!v.found) {
        return fail(
            Error(fmt::format("WAL segment {} was deleted (TruncateBefore) while being read at LSN {}", path_, pos_)));
      }
      limit_ = v.limit;
      if (pos_ < limit_) continue;
      if (!v.sealed || pos_ < v.end) return false;  // at the durable end: call again later
      const std::optional<Lsn> next = wal_->SegmentAfter(seg_start_);
      if (!next) return false;
      if (*next > v.end) {
        // Only a range moved to a quarantine file may be passed over; anything else is lost data.
        if (!wal_->IsQuarantined({v.end, *next})) {
          return fail(Error(fmt::format(
              "WAL {}: LSNs [{}, {}) are missing (a segment file was deleted or damaged); cannot replay past {}",
              wal_->options_.dir, v.end, *next, v.end)));
        }
        WEIR_LOG_WARN("WAL replay passes over quarantined LSNs [{}, {})", v.end, *next);
        skipped_ += *next - v.end;
        pos_ = *next;
      }
      if (auto st = OpenSegment(*next); !st) return fail(st.error());
      continue;
    }
    RawRecord r;
    const Result<Parse> parsed = ParseAt(*buf_, pos_, limit_, r);
    if (!parsed) return fail(parsed.error());
    if (*parsed != Parse::kOk) {
      return fail(Error(fmt::format("WAL segment {} has no valid record at LSN {} (file offset {}): {}{}", path_, pos_,
                                    pos_ - seg_start_, ParseReason(*parsed),
                                    returned_any_ ? "" : " (is it the start of a record?)")));
    }
    out.lsn = pos_;
    out.tag = r.tag;
    out.payload = std::string_view(r.payload, r.length);
    pos_ += kWalHeaderBytes + r.length;
    out.next = pos_;
    returned_any_ = true;
    return true;
  }
}

}  // namespace weir::state
