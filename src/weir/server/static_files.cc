// Static files for the dashboard: content types, index.html, ETag revalidation, and refusal of
// paths that would leave the directory.
#include "weir/server/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <fmt/format.h>

#include "weir/server/exchange.h"

namespace weir::server::detail {
namespace {

struct FileInfo {
  bool exists = false;
  bool directory = false;
  bool regular = false;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

FileInfo Stat(const std::string& path) {
  FileInfo info;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return info;
  info.exists = true;
  info.directory = S_ISDIR(st.st_mode);
  info.regular = S_ISREG(st.st_mode);
  info.size = static_cast<uint64_t>(st.st_size);
  info.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return info;
}

bool ReadFile(const std::string& path, uint64_t size_hint, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  out.reserve(size_hint);
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

// If-None-Match holds "*" or a comma-separated list of (possibly weak) entity tags.
bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    size_t comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string_view ContentTypeForPath(std::string_view path) {
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  std::string ext;
  for (char c : path.substr(dot + 1)) ext.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
  struct Entry {
    std::string_view ext, type;
  };
  static constexpr Entry kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"txt", "text/plain; charset=utf-8"},
      {"csv", "text/csv; charset=utf-8"},
      {"xml", "application/xml"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"avif", "image/avif"},
      {"ico", "image/x-icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"otf", "font/otf"},
      {"wasm", "application/wasm"},
      {"pdf", "application/pdf"},
      {"webmanifest", "application/manifest+json"},
  };
  for (const Entry& e : kTypes) {
    if (e.ext == ext) return e.type;
  }
  return "application/octet-stream";
}

Response ServeStaticFile(const StaticMount& mount, const Request& request, std::string_view raw_path,
                         std::string_view relative) {
  if (relative.find('\0') != std::string_view::npos) return Response::Error(400, "path contains a NUL byte");
  // Checked on the decoded path, so "%2e%2e" is caught too. Symbolic links inside the
  // directory are followed on purpose: whoever controls the directory chose them.
  for (std::string_view rest = relative; !rest.empty();) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg == "..") return Response::Error(400, "path must not contain '..' segments");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }

  std::string file = mount.directory;
  file += relative;
  FileInfo info = Stat(file);
  if (info.directory) {
    if (!relative.ends_with('/')) {
      // Relative links in index.html resolve against the directory only with the slash.
      Response r;
      r.status = 301;
      r.content_type.clear();
      std::string location(raw_path);
      location += '/';
      if (size_t q = request.target.find('?'); q != std::string::npos) location += request.target.substr(q);
      r.headers.emplace_back("Location", std::move(location));
      return r;
    }
    file += "index.html";
    info = Stat(file);
  }
  if (!info.exists || !info.regular) {
    return Response::Error(404, fmt::format("no file {}", request.path));
  }

  std::string etag = fmt::format("\"{:x}-{:x}\"", info.size, info.mtime_ns);
  Response r;
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control", "no-cache");  // revalidate each time: cheap with ETag
  if (std::string_view inm = request.header("If-None-Match"); !inm.empty() && EtagMatches(inm, etag)) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  if (!ReadFile(file, info.size, r.body)) {
    return Response::Error(404, fmt::format("cannot read {}", request.path));
  }
  r.status = 200;
  r.content_type = ContentTypeForPath(file);
  return r;
}

}  // namespace weir::server::detail
