// A tmpfs mounted for the length of a test (a small disk that fills up, a read-only directory).
// Mounting needs root: a test skips when it cannot.
//
//   auto disk = weir::testing::Tmpfs::Mount(dir / "small", "size=3m");
//   if (!disk) GTEST_SKIP() << disk.error();
#pragma once

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>

namespace weir::testing {

class Tmpfs {
 public:
  /// Mounts a tmpfs on `path` (created if missing) with `options` ("size=3m") and `flags`
  /// (MS_RDONLY); the error says why not.
  static std::expected<std::unique_ptr<Tmpfs>, std::string> Mount(const std::filesystem::path& path,
                                                                  const std::string& options, unsigned long flags = 0) {
    std::filesystem::create_directories(path);
    if (::mount("tmpfs", path.c_str(), "tmpfs", flags, options.c_str()) != 0)
      return std::unexpected("cannot mount a tmpfs here (needs root): " + std::string(std::strerror(errno)));
    return std::unique_ptr<Tmpfs>(new Tmpfs(path));
  }
  /// Mounts it again with other flags (0: writable again); false with errno set on failure.
  bool Remount(const std::string& options, unsigned long flags = 0) {
    return ::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT | flags, options.c_str()) == 0;
  }
  ~Tmpfs() { ::umount2(path_.c_str(), MNT_DETACH); }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

 private:
  explicit Tmpfs(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

}  // namespace weir::testing
