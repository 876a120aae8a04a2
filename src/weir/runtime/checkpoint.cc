#include "weir/runtime/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "weir/base/hash.h"

namespace weir::runtime {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'W', 'E', 'I', 'R', 'C', 'K', 'P', 'T'};
constexpr uint64_t kVersion = 2;  // 2 added source states; 1 is still read

void Put(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }
void PutStr(std::string& out, std::string_view s) {
  Put(out, s.size());
  out.append(s);
}

struct Reader {
  std::string_view in;
  bool ok = true;
  uint64_t U64() {
    if (in.size() < 8) {
      ok = false;
      return 0;
    }
    uint64_t v;
    std::memcpy(&v, in.data(), 8);
    in.remove_prefix(8);
    return v;
  }
  std::string Str() {
    uint64_t n = U64();
    if (!ok || in.size() < n) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return Fail("cannot open {}: {}", path, std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Fail("fsync {}: {}", path, std::strerror(err));
  return Ok();
}

}  // namespace

std::optional<int64_t> Checkpoint::PositionOf(std::string_view source, uint32_t partition) const {
  for (const auto& p : positions)
    if (p.source == source && p.partition == partition) return p.position;
  return std::nullopt;
}

std::string_view Checkpoint::StateOf(std::string_view source) const {
  for (const auto& s : sources)
    if (s.source == source) return s.state;
  return {};
}

std::string CheckpointStore::Encode(const Checkpoint& cp) {
  std::string body;
  Put(body, kVersion);
  Put(body, cp.id);
  Put(body, static_cast<uint64_t>(cp.created_at));
  Put(body, cp.positions.size());
  for (const auto& p : cp.positions) {
    PutStr(body, p.source);
    Put(body, p.partition);
    Put(body, static_cast<uint64_t>(p.position));
  }
  Put(body, cp.metrics.size());
  for (const auto& m : cp.metrics) {
    PutStr(body, m.metric);
    Put(body, m.fingerprint);
    PutStr(body, m.state);
  }
  Put(body, cp.sources.size());
  for (const auto& s : cp.sources) {
    PutStr(body, s.source);
    PutStr(body, s.state);
  }
  std::string out(kMagic, 8);
  Put(out, body.size());
  Put(out, Hash64(body));
  out += body;
  return out;
}

Result<Checkpoint> CheckpointStore::Decode(std::string_view bytes) {
  if (bytes.size() < 24 || std::memcmp(bytes.data(), kMagic, 8) != 0) return Fail("not a checkpoint file");
  Reader head{bytes.substr(8)};
  uint64_t size = head.U64(), sum = head.U64();
  std::string_view body = bytes.substr(24);
  if (body.size() != size) return Fail("checkpoint is {} bytes, expected {} (truncated)", body.size(), size);
  if (Hash64(body) != sum) return Fail("checkpoint checksum mismatch (corrupt)");
  Reader r{body};
  Checkpoint cp;
  uint64_t version = r.U64();
  if (version != kVersion && version != 1) return Fail("unknown checkpoint version {}", version);
  cp.id = r.U64();
  cp.created_at = static_cast<Timestamp>(r.U64());
  uint64_t n = r.U64();
  for (uint64_t i = 0; r.ok && i < n; ++i) {
    Checkpoint::SourcePosition p;
    p.source = r.Str();
    p.partition = static_cast<uint32_t>(r.U64());
    p.position = static_cast<int64_t>(r.U64());
    cp.positions.push_back(std::move(p));
  }
  n = r.U64();
  for (uint64_t i = 0; r.ok && i < n; ++i) {
    Checkpoint::MetricState m;
    m.metric = r.Str();
    m.fingerprint = r.U64();
    m.state = r.Str();
    cp.metrics.push_back(std::move(m));
  }
  n = version >= 2 ? r.U64() : 0;
  for (uint64_t i = 0; r.ok && i < n; ++i) {
    Checkpoint::SourceState s;
    s.source = r.Str();
    s.state = r.Str();
    cp.sources.push_back(std::move(s));
  }
  if (!r.ok || !r.in.empty()) return Fail("checkpoint body is malformed");
  return cp;
}

std::vector<std::pair<uint64_t, std::string>> CheckpointStore::List() const {
  std::vector<std::pair<uint64_t, std::string>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() != 30 || name.rfind("ckpt-", 0) != 0 || e.path().extension() != ".ckpt") continue;
    out.emplace_back(std::strtoull(name.c_str() + 5, nullptr, 10), e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<uint64_t, std::vector<Checkpoint::SourcePosition>>> CheckpointStore::PeekPositions() const {
  std::vector<std::pair<uint64_t, std::vector<Checkpoint::SourcePosition>>> out;
  for (const auto& [id, path] : List()) {
    auto& entry = out.emplace_back(id, std::vector<Checkpoint::SourcePosition>{});
    std::ifstream in(path, std::ios::binary);
    // Positions come right after the 24-byte header and version, id, time: a few KiB at most.
    std::string head(64 * 1024, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    if (head.size() < 24 || std::memcmp(head.data(), kMagic, 8) != 0) continue;
    Reader r{std::string_view(head).substr(24)};
    if (uint64_t version = r.U64(); version != kVersion && version != 1) continue;
    r.U64();
    r.U64();
    uint64_t n = r.U64();
    std::vector<Checkpoint::SourcePosition> positions;
    for (uint64_t i = 0; r.ok && i < n; ++i) {
      Checkpoint::SourcePosition p;
      p.source = r.Str();
      p.partition = static_cast<uint32_t>(r.U64());
      p.position = static_cast<int64_t>(r.U64());
      if (r.ok) positions.push_back(std::move(p));
    }
    if (r.ok) entry.second = std::move(positions);
  }
  return out;
}

Result<uint64_t> CheckpointStore::Write(const Checkpoint& cp) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Fail("cannot create checkpoint directory {}: {}", dir_, ec.message());
  std::string bytes = Encode(cp);
  std::string path = fmt::format("{}/ckpt-{:020}.ckpt", dir_, cp.id);
  std::string tmp = path + ".tmp";
  {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Fail("cannot write checkpoint {}: {}", tmp, std::strerror(errno));
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return Fail("cannot write checkpoint {}: {}", tmp, std::strerror(err));
      }
      done += static_cast<size_t>(w);
    }
    if (::fsync(fd) != 0) {
      int err = errno;
      ::close(fd);
      return Fail("cannot fsync checkpoint {}: {}", tmp, std::strerror(err));
    }
    ::close(fd);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Fail("cannot rename {}: {}", tmp, std::strerror(errno));
  WEIR_RETURN_IF_ERROR(SyncPath(dir_, true));
  auto all = List();
  for (size_t i = 0; i + static_cast<size_t>(keep_) < all.size(); ++i) fs::remove(all[i].second, ec);
  return bytes.size();
}

Result<std::optional<Checkpoint>> CheckpointStore::LoadLatest(std::vector<std::string>* skipped) const {
  auto all = List();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    std::ifstream in(it->second, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto cp = Decode(ss.str());
    if (cp) return std::optional<Checkpoint>(std::move(*cp));
    if (skipped) skipped->push_back(fmt::format("{}: {}", it->second, cp.error().message));
  }
  return std::optional<Checkpoint>();
}

}  // namespace weir::runtime
