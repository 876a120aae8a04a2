// Shared pieces of the "floor" programs (bench/floor/q*.cc): hand-written, single-purpose C++
// programs that each answer one benchmark query over an NDJSON events file, as fast as one core
// goes with simdjson On-Demand and flat hash maps. They show what a program that does nothing but
// that query reaches, the bar Weir is measured against in the "Peers" section of BENCHMARKS.md.
//
// Usage (inside a floor program):
//   bench_floor::MappedFile file;
//   if (!file.Open(argv[1])) return 1;
//   bench_floor::ForEachEvent(file, stats, [&](simdjson::ondemand::object& event) { ... });
//   bench_floor::Out out;  out.Raw("{\"window_start\":");  out.Time(start);  ...  out.Flush();
//
// Results are NDJSON rows in Weir's result format (`weir query`): window_start, window_end,
// group keys, values. Windows are event-time windows over every event: each event is bucketed by
// its own timestamp (no watermark), so the rows equal Weir's final results when Weir dropped no
// late record.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace weir::bench_floor {

inline constexpr int64_t kMinute = 60'000;
inline constexpr int64_t kHour = 3'600'000;

/// A read-only memory map of a whole file followed by at least SIMDJSON_PADDING readable zero bytes.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (base_ != nullptr) munmap(base_, mapped_);
  }

  // simdjson reads up to SIMDJSON_PADDING bytes past the end. Touching a page of a file mapping
  // that lies wholly past the end of the file raises SIGBUS, so an anonymous (zero) region one
  // page longer is reserved first and the file is mapped over its start.
  bool Open(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "cannot open %s: %s\n", path, std::strerror(errno));
      return false;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      close(fd);
      return false;
    }
    size_ = static_cast<size_t>(st.st_size);
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    mapped_ = (size_ + simdjson::SIMDJSON_PADDING + page) / page * page;
    void* region = mmap(nullptr, mapped_, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) {
      close(fd);
      return false;
    }
    if (size_ > 0 && mmap(region, size_, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
      std::fprintf(stderr, "cannot map %s: %s\n", path, std::strerror(errno));
      munmap(region, mapped_);
      close(fd);
      return false;
    }
    close(fd);
    madvise(region, size_, MADV_SEQUENTIAL);
    base_ = region;
    return true;
  }

  // Drops the pages before byte `upto` from memory (they are read again from the file if touched),
  // so that the resident set stays small however large the file; Weir's file source does the same.
  void Release(size_t upto) const {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    upto = std::min(upto, size_) / page * page;
    if (upto > released_) {
      madvise(static_cast<char*>(base_) + released_, upto - released_, MADV_DONTNEED);
      released_ = upto;
    }
  }

  const char* data() const { return static_cast<const char*>(base_); }
  size_t size() const { return size_; }

 private:
  void* base_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;
  mutable size_t released_ = 0;
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
inline int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

inline void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

/// Parses ISO-8601 timestamps (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)) to epoch ms.
class TimestampParser {
 public:
  // Returns false when `s` is not of that shape. The date part repeats from one event to the
  // next, so its day number is cached.
  bool Parse(std::string_view s, int64_t& ms) {
    if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
      return false;
    if (std::memcmp(s.data(), cached_date_, 10) != 0) {
      unsigned y, mo, d;
      if (!Digits(s, 0, 4, y) || !Digits(s, 5, 2, mo) || !Digits(s, 8, 2, d) || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
      std::memcpy(cached_date_, s.data(), 10);
      cached_days_ = DaysFromCivil(y, mo, d);
    }
    unsigned h, mi, sec;
    if (!Digits(s, 11, 2, h) || !Digits(s, 14, 2, mi) || !Digits(s, 17, 2, sec) || h > 23 || mi > 59 || sec > 60)
      return false;
    size_t i = 19;
    int64_t frac_ms = 0;
    if (i < s.size() && s[i] == '.') {
      ++i;
      int digits = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (digits < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
        ++digits;
        ++i;
      }
      if (digits == 0) return false;
      for (int k = digits; k < 3; ++k) frac_ms *= 10;
    }
    int64_t offset_min = 0;
    if (i < s.size() && s[i] == 'Z') {
      ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      unsigned oh, om;
      if (s.size() < i + 6 || !Digits(s, i + 1, 2, oh) || s[i + 3] != ':' || !Digits(s, i + 4, 2, om)) return false;
      offset_min = (s[i] == '+' ? 1 : -1) * static_cast<int64_t>(oh * 60 + om);
      i += 6;
    } else {
      return false;
    }
    if (i != s.size()) return false;
    ms = ((cached_days_ * 24 + h) * 60 + mi - offset_min) * 60'000 + int64_t{sec} * 1000 + frac_ms;
    return true;
  }

 private:
  static bool Digits(std::string_view s, size_t at, size_t n, unsigned& out) {
    out = 0;
    for (size_t k = at; k < at + n; ++k) {
      unsigned c = static_cast<unsigned char>(s[k]) - '0';
      if (c > 9) return false;
      out = out * 10 + c;
    }
    return true;
  }

  char cached_date_[10] = {};
  int64_t cached_days_ = 0;
};

// Start of the window of `size` ms that holds `ms` (floor division, also before 1970).
inline int64_t AlignDown(int64_t ms, int64_t size) {
  int64_t q = ms / size;
  if (ms % size < 0) --q;
  return q * size;
}

/// Buffered stdout writer for result rows (NDJSON).
class Out {
 public:
  ~Out() { Flush(); }
  void Raw(std::string_view s) {
    buf_.append(s);
    if (buf_.size() > (1 << 16)) Flush();
  }
  void Int(int64_t v) {
    char tmp[24];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    buf_.append(tmp, r.ptr);
  }
  // Shortest representation that reads back as the same double, as Weir prints numbers.
  void Double(double v) {
    if (!std::isfinite(v)) {
      buf_.append("null");
      return;
    }
    char tmp[32];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    buf_.append(tmp, r.ptr);
  }
  // A JSON string; keys in this data need no escaping but quotes, backslashes and control
  // characters are escaped anyway.
  void Str(std::string_view s) {
    buf_.push_back('"');
    for (char c : s) {
      if (c == '"' || c == '\\') {
        buf_.push_back('\\');
        buf_.push_back(c);
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char tmp[8];
        std::snprintf(tmp, sizeof tmp, "\\u%04x", static_cast<unsigned>(c));
        buf_.append(tmp);
      } else {
        buf_.push_back(c);
      }
    }
    buf_.push_back('"');
  }
  // "YYYY-MM-DDTHH:MM:SS.mmmZ", as Weir prints window bounds.
  void Time(int64_t ms) {
    int64_t days = AlignDown(ms, 86'400'000) / 86'400'000;
    int64_t rem = ms - days * 86'400'000;
    int64_t y;
    unsigned mo, d;
    CivilFromDays(days, y, mo, d);
    char tmp[96];
    std::snprintf(tmp, sizeof tmp, "\"%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ\"", static_cast<long long>(y), mo,
                  d, static_cast<long long>(rem / 3'600'000), static_cast<long long>(rem / 60'000 % 60),
                  static_cast<long long>(rem / 1000 % 60), static_cast<long long>(rem % 1000));
    buf_.append(tmp);
  }
  // `{"metric":"name",` (when name is not empty) `"window_start":…,"window_end":…`.
  void WindowPrefix(std::string_view metric, int64_t start, int64_t end) {
    buf_.push_back('{');
    if (!metric.empty()) {
      buf_.append("\"metric\":");
      Str(metric);
      buf_.push_back(',');
    }
    buf_.append("\"window_start\":");
    Time(start);
    buf_.append(",\"window_end\":");
    Time(end);
  }
  void Flush() {
    if (!buf_.empty()) std::fwrite(buf_.data(), 1, buf_.size(), stdout);
    buf_.clear();
  }

 private:
  std::string buf_;
};

// 64-bit hash of a short string for the HyperLogLog sketch: FNV-1a over the bytes, then
// MurmurHash3's finaliser so that every output bit depends on every input bit.
inline uint64_t HashBytes(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

/// Dense HyperLogLog with 2^14 one-byte registers (the precision of Weir's approx_distinct).
class Hll {
 public:
  static constexpr int kP = 14;
  static constexpr uint32_t kM = 1u << kP;

  Hll() : reg_(kM, 0) {}
  void Add(uint64_t hash) {
    uint32_t idx = static_cast<uint32_t>(hash >> (64 - kP));
    uint64_t rest = (hash << kP) | (uint64_t{1} << (kP - 1));  // guard bit bounds the rank
    uint8_t rank = static_cast<uint8_t>(std::countl_zero(rest) + 1);
    if (rank > reg_[idx]) reg_[idx] = rank;
  }
  // Classic estimator with linear counting for small cardinalities (Flajolet et al. 2007).
  double Estimate() const {
    double sum = 0;
    uint32_t zeros = 0;
    for (uint8_t r : reg_) {
      sum += std::ldexp(1.0, -r);
      zeros += r == 0;
    }
    const double m = kM;
    double e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
    if (e <= 2.5 * m && zeros > 0) e = m * std::log(m / zeros);
    return e;
  }

 private:
  std::vector<uint8_t> reg_;
};

/// Counts what the parse loop skipped, reported on stderr at the end.
struct Stats {
  uint64_t events = 0;
  uint64_t malformed = 0;
  void Report(const char* program) const {
    std::fprintf(stderr, "%s: %llu events, %llu malformed\n", program, static_cast<unsigned long long>(events),
                 static_cast<unsigned long long>(malformed));
  }
};

// Calls `fn(object)` for every top-level JSON object of the NDJSON buffer, in file order, on this
// thread only (simdjson's background stage-1 thread is turned off: the floor is one core's
// figure). `fn` returns false when the event's fields did not parse; such events and documents
// that are not objects are counted as malformed.
template <typename Fn>
bool ForEachEvent(const MappedFile& file, Stats& stats, Fn&& fn) {
  constexpr size_t kBatch = 1 << 20;
  simdjson::ondemand::parser parser;
#ifdef SIMDJSON_THREADS_ENABLED
  parser.threaded = false;
#endif
  simdjson::ondemand::document_stream stream;
  if (auto err = parser.iterate_many(file.data(), file.size(), kBatch).get(stream)) {
    std::fprintf(stderr, "iterate_many: %s\n", simdjson::error_message(err));
    return false;
  }
  for (auto it = stream.begin(); it != stream.end(); ++it) {
    // Every 64 Ki events, let go of what lies more than two batches behind.
    if ((++stats.events & 0xffff) == 0 && it.current_index() > 2 * kBatch)
      file.Release(it.current_index() - 2 * kBatch);
    simdjson::ondemand::document_reference doc;
    simdjson::ondemand::object obj;
    if ((*it).get(doc) != simdjson::SUCCESS || doc.get_object().get(obj) != simdjson::SUCCESS || !fn(obj))
      ++stats.malformed;
  }
  if (stream.truncated_bytes() > 0) {
    std::fprintf(stderr, "%zu bytes of an incomplete last document ignored\n", stream.truncated_bytes());
  }
  return true;
}

}  // namespace weir::bench_floor
