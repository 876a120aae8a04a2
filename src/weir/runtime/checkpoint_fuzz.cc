// libFuzzer entry point for checkpoint files (CheckpointStore::Decode). The input is a checkpoint
// body; it is framed as a file whose size and checksum match, so what gets exercised is the
// parser of versions, positions, metric states and source states, not the checksum's refusal.
// Decoding either fails with an error or gives a checkpoint that encodes and decodes again to
// the same thing. It must never crash.
//
// Build, as one command (needs clang with libFuzzer):
//   clang++ -std=c++23 -g -O1 -fsanitize=fuzzer,address -march=haswell -Isrc
//     src/weir/runtime/checkpoint_fuzz.cc src/weir/runtime/checkpoint.cc -lfmt -lxxhash
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "weir/base/hash.h"
#include "weir/runtime/checkpoint.h"

namespace weir::runtime::checkpoint_fuzz {

/// `body` framed as a checkpoint file: magic, size, checksum.
inline std::string Frame(std::string_view body) {
  std::string file("WEIRCKPT", 8);
  uint64_t size = body.size(), sum = Hash64(body);
  file.append(reinterpret_cast<const char*>(&size), 8).append(reinterpret_cast<const char*>(&sum), 8);
  file.append(body);
  return file;
}

}  // namespace weir::runtime::checkpoint_fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir::runtime;
  const std::string file = checkpoint_fuzz::Frame(std::string_view(reinterpret_cast<const char*>(data), size));
  auto cp = CheckpointStore::Decode(file);
  if (!cp) return 0;
  for (const auto& p : cp->positions) (void)cp->PositionOf(p.source, p.partition);
  for (const auto& s : cp->sources) (void)cp->StateOf(s.source);
  // What decodes, encodes (as the current version) and decodes again to the same bytes.
  const std::string again = CheckpointStore::Encode(*cp);
  auto round = CheckpointStore::Decode(again);
  if (!round || CheckpointStore::Encode(*round) != again) std::abort();
  return 0;
}
