// libFuzzer entry point for the JSON decoder: every input shape (NDJSON, a document, change
// envelopes, prefix reads, a gate) over a layout with nested paths. It must never crash, and rows must stay
// consistent with the counts it reports.
//
// Build, as one command (needs clang with libFuzzer and a libstdc++ that clang can compile with <expected>):
//   clang++ -std=c++23 -g -O1 -fsanitize=fuzzer,address -march=haswell -Isrc
//     src/weir/codec/json_decoder_fuzz.cc src/weir/codec/json_decoder.cc src/weir/model/*.cc
//     src/weir/base/time.cc -lsimdjson -lfmt -o json_decoder_fuzz
#include <cstdint>
#include <cstdlib>

#include "weir/codec/json_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;
  static Layout* layout = [] {
    auto* l = new Layout();
    for (const char* p : {"a", "a.b", "a.b.c", "op", "status", "ts_ms", "properties.amount", "x.y", "payload"})
      l->Intern(p);
    return l;
  }();
  // Config 3: prefix reads under a gate of `status = 'ok'` (short and long copies, probes).
  static const codec::DecodeGate* gate =
      new codec::DecodeGate(codec::DecodeGate::FieldIs(*layout->Find("status"), "ok", *layout->Find("ts_ms")));
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int config = 0; config < 4; ++config) {
    codec::JsonDecoder dec(*layout, codec::DecodeOptions{.max_event_bytes = 4096, .envelopes = config == 1,
                                                         .gate = config == 3 ? gate : nullptr,
                                                         .prefix_reads = config >= 2});
    auto buf = codec::PaddedBuffer::Copy(in);
    {
      Batch b(layout->width());
      std::vector<codec::Reject> rejects;
      codec::DecodeStats st = dec.DecodeNdjson(*buf, b, &rejects);
      if (st.rejected != rejects.size() || b.size() < st.events) std::abort();
    }
    {
      Batch b(layout->width());
      std::vector<codec::Reject> rejects;
      auto st = dec.DecodeDocument(*buf, b, &rejects);
      if (st && st->rejected != rejects.size()) std::abort();
      if (!st && b.size() != 0) std::abort();
    }
  }
  return 0;
}
