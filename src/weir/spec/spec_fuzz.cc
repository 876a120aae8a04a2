// libFuzzer target: the pipeline loader on arbitrary bytes must return (never crash, hang or
// throw), and every diagnostic must name the file.
//
//   clang++ -std=c++2b -g -O1 -fsanitize=fuzzer,address,undefined -Isrc src/weir/spec/spec_fuzz.cc
//     src/weir/spec/{diagnostics,config_node,loader}.cc src/weir/base/time.cc -lyaml-cpp -lfmt -o spec_fuzz
//   ./spec_fuzz -max_len=4096 -rss_limit_mb=1024 corpus/
//
// Needs clang 16 or newer: older clangs cannot compile libstdc++'s <expected>. Not built by CMake
// yet. The GoogleTest Loader.MutatedDocumentsNeverThrow runs a deterministic slice of the same
// idea on every test run.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "weir/spec/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  weir::spec::Diagnostics diags;
  std::optional<weir::spec::Pipeline> pipeline;
  try {
    pipeline = weir::spec::LoadString(text, "fuzz.yaml", diags);
  } catch (...) {
    std::abort();  // an exception escaped the loader: a bug
  }
  for (const weir::spec::Diagnostic& d : diags.all())
    if (d.location.file != "fuzz.yaml") std::abort();
  if (!pipeline && diags.ok()) std::abort();  // nullopt always comes with an error
  (void)diags.Format();
  if (pipeline) {
    // Exercise what callers do next: locate into expressions, read configs.
    for (const weir::spec::MetricSpec& m : pipeline->metrics) {
      (void)weir::spec::LocateInExpr(m.where, 2);
      for (const weir::spec::NamedExpr& ne : m.select) (void)weir::spec::LocateInExpr(ne.expr, 3);
    }
    for (const weir::spec::SourceSpec& s : pipeline->sources) {
      weir::spec::ConfigReader r(s.config, diags);
      (void)r.String("path", "");
      (void)r.Bytes("max_body", 0);
      r.RejectUnknownKeys();
    }
  }
  return 0;
}
