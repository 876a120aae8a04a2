#include "weir/connectors/sinks/file_sink.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace weir::connectors {
namespace {

class FileSink final : public runtime::LineSink {
 public:
  FileSink(std::string path, bool append) : path_(std::move(path)), append_(append) {}
  ~FileSink() override { Close(); }

  Status Open() override {
    if (path_.empty()) {
      file_ = stdout;
      return Ok();
    }
    std::error_code ec;
    auto parent = std::filesystem::path(path_).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (restore_) {
      // Back to where the checkpoint left the file: what follows is written again by the replay.
      if (!std::filesystem::exists(path_, ec)) std::fclose(std::fopen(path_.c_str(), "wb"));
      if (::truncate(path_.c_str(), *restore_) != 0)
        return Fail("cannot restore {} to {} bytes: {}", path_, *restore_, std::strerror(errno));
      file_ = std::fopen(path_.c_str(), "ab");
    } else {
      file_ = std::fopen(path_.c_str(), append_ ? "ab" : "wb");
    }
    if (!file_) return Fail("cannot open {} for writing: {}", path_, std::strerror(errno));
    std::fseek(file_, 0, SEEK_END);
    position_ = std::ftell(file_);
    return Ok();
  }
  std::optional<int64_t> Position() const override {
    if (path_.empty() || !file_) return std::nullopt;
    return position_;
  }
  void RestorePosition(int64_t position) override { restore_ = position; }
  Status Flush() override {
    if (file_ && std::fflush(file_) != 0) return Fail("writing {}: {}", Name(), std::strerror(errno));
    return Ok();
  }
  void Close() override {
    if (!file_) return;
    std::fflush(file_);
    if (file_ != stdout) std::fclose(file_);
    file_ = nullptr;
  }

 protected:
  Status WriteLines(std::string_view lines, size_t count) override {
    if (lines.empty()) return Ok();
    if (std::fwrite(lines.data(), 1, lines.size(), file_) != lines.size())
      return Fail("writing {}: {}", Name(), std::strerror(errno));
    position_ += static_cast<int64_t>(lines.size());
    stats().written += count;
    return Ok();
  }

 private:
  std::string Name() const { return path_.empty() ? "stdout" : path_; }
  std::string path_;
  bool append_;
  FILE* file_ = nullptr;
  int64_t position_ = 0;
  std::optional<int64_t> restore_;
};

}  // namespace

std::unique_ptr<runtime::Sink> MakeFileSink(const spec::SinkSpec& spec, runtime::PlanContext& ctx) {
  spec::ConfigReader r(spec.config, ctx.diags);
  std::string path = r.RequiredString("path");
  bool append = r.Bool("append", false);
  r.Enum("format", {"ndjson"}, "ndjson");
  r.RejectUnknownKeys({"id", "required"});
  std::filesystem::path p(path);
  if (!path.empty() && p.is_relative() && !ctx.pipeline.file.empty())
    p = std::filesystem::path(ctx.pipeline.file).parent_path() / p;
  return std::make_unique<FileSink>(p.lexically_normal().string(), append);
}

std::unique_ptr<runtime::Sink> MakeStdoutSink(const spec::SinkSpec& spec, runtime::PlanContext& ctx) {
  spec::ConfigReader r(spec.config, ctx.diags);
  r.Enum("format", {"ndjson"}, "ndjson");
  r.RejectUnknownKeys({"id", "required"});
  return std::make_unique<FileSink>("", false);
}

}  // namespace weir::connectors
