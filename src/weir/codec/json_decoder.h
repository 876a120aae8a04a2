// Decoding JSON events into batch rows, reading only the fields the pipeline uses.
//
// The decoder walks each object once (simdjson On-Demand) against a trie of the layout's input
// paths; every other field is skipped without being materialised. Strings without escapes point
// straight into the input buffer; escaped ones are unescaped into the batch arena. Objects and
// arrays that a path names are kept as raw JSON text.
//
// Change envelopes are recognised, so CDC streams can be replayed through JSON sources:
//   native   {"op":"u","before":{…},"after":{…},"ts_ms":…}    (op c/r/u/d, as DeltaForge writes)
//   debezium {"payload":{"op":…,"before":…,"after":…,"ts_ms":…}} or the payload alone
// Field paths then address the row (`status`, not `after.status`): an insert adds the `after`
// row with weight +1, a delete retracts the `before` row (weight -1), and an update does both.
// Envelope fields stay reachable under `_op`, `_ts_ms`, `_source.<field>` and `_table`.
//
//   JsonDecoder dec(layout);
//   auto buf = PaddedBuffer::Copy(body);
//   Batch batch(layout.width());
//   DecodeStats st = dec.DecodeNdjson(*buf, batch, &rejects);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weir/base/result.h"
#include "weir/model/batch.h"
#include "weir/model/layout.h"

namespace weir::codec {

/// Bytes followed by the zeroed padding simdjson needs to read past the end safely.
class PaddedBuffer {
 public:
  static constexpr size_t kPadding = 64;
  static std::shared_ptr<PaddedBuffer> Allocate(size_t capacity);
  static std::shared_ptr<PaddedBuffer> Copy(std::string_view bytes);
  /// Takes over a string's bytes (appending the padding to it).
  static std::shared_ptr<PaddedBuffer> Adopt(std::string&& bytes);

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  /// Sets the used size (<= capacity) and zeroes the padding after it.
  void Resize(size_t n);
  std::string_view view() const { return {data_, size_}; }

 private:
  std::string storage_;
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

/// An event that could not be decoded: its position in the request or file, and why.
struct Reject {
  size_t index;  ///< 0-based event index (NDJSON: line among non-empty lines)
  std::string reason;
};

struct DecodeStats {
  size_t events = 0;    ///< events decoded into rows (an update counts once)
  size_t rejected = 0;  ///< events rejected
  size_t lines = 0;     ///< NDJSON: newline characters passed (for line numbers in messages)
  size_t prefix_reads = 0;  ///< NDJSON: events decoded from a prefix only (DecodeOptions::prefix_reads)
};

/// Lets the decoder stop early on events nobody keeps. Once the `decide` fields of an event are
/// read and `keep` says no, the row is marked (Batch::MarkFiltered), only the `always` fields are
/// still read (the event times that move watermarks) and the rest of the event is skipped,
/// unparsed. `keep` must be true whenever any consumer's filter is. Every slot must be a top-level
/// input field; the pipeline builds a gate only when every consumer of a source filters on such
/// fields (no processors, no event sinks, no change envelopes).
///
/// `time_slot` (any gate, with or without `keep`): the top-level field every metric reading the
/// source takes as its event time; its value is turned into the record's Batch time (TimesFor)
/// as it is read. Ignored, like the rest, with change envelopes.
///
/// `equals` (optional, with `keep`): when every filter is `field = 'text'`, those pairs; an event
/// whose fields there are all strings is then kept when one equals its text, without calling
/// `keep` (which decides when any of them is not a string).
struct DecodeGate {
  std::vector<uint32_t> decide;
  std::vector<uint32_t> always;
  std::function<bool(const Value* row, Arena& arena)> keep;
  struct Equals {
    uint32_t slot;
    std::string_view text;
  };
  std::vector<Equals> equals;
  int32_t time_slot = -1;

  /// The gate of one metric with `where: <field> = '<text>'` and event time `time_field`: events
  /// whose field is the text are kept; the others are read for their time alone. `text` must
  /// outlive the gate.
  static DecodeGate FieldIs(uint32_t field, std::string_view text, uint32_t time_field) {
    DecodeGate g;
    g.decide = {field};
    g.always = {time_field};
    g.keep = [field, text](const Value* row, Arena&) { return row[field].is_string() && row[field].as_string() == text; };
    g.equals = {{field, text}};
    g.time_slot = static_cast<int32_t>(time_field);
    return g;
  }

  bool Keeps(const Value* row, Arena& arena) const {
    if (equals.empty()) return keep(row, arena);
    for (const Equals& e : equals) {
      const Value& v = row[e.slot];
      if (!v.is_string()) return keep(row, arena);
      if (v.as_string() == e.text) return true;
    }
    return false;
  }
};

struct DecodeOptions {
  size_t max_event_bytes = 1 << 20;  ///< larger events are rejected
  bool envelopes = true;             ///< recognise change envelopes
  const DecodeGate* gate = nullptr;  ///< see DecodeGate; ignored with envelopes
  /// NDJSON without envelopes: a line of 192 bytes or more is first decoded from a copy of its
  /// first 128 bytes; when every field the pipeline needs (or the gate's decision and the event
  /// time) lies whole within them, the rest of the line is neither scanned nor checked, beyond
  /// ending in `}`. Otherwise the whole line is decoded as usual; while that is the common case,
  /// prefix reads pause. A line the gate probably keeps (its `equals` text quoted in the first
  /// bytes) is read the same way from its first 256 bytes, through to every field wanted. For
  /// replayed streams (files, the simulator); HTTP leaves it off, so that every event it
  /// acknowledges has been checked whole.
  bool prefix_reads = false;
};

/// Decodes JSON objects into rows of a Layout. One decoder per thread (it owns parser state).
class JsonDecoder {
 public:
  explicit JsonDecoder(const Layout& layout, DecodeOptions options = {});
  ~JsonDecoder();
  JsonDecoder(const JsonDecoder&) = delete;
  JsonDecoder& operator=(const JsonDecoder&) = delete;

  /// Decodes one JSON object occupying [begin, begin+len) of a buffer that has at least
  /// PaddedBuffer::kPadding readable bytes after it. Adds one or two rows (an update adds two);
  /// on error adds none and returns the reason.
  Status DecodeObject(const char* begin, size_t len, Batch& batch);

  /// Decodes newline-delimited JSON; blank lines are ignored. The buffer must be held by the
  /// batch (batch.Hold) as rows point into it. Rejected lines are appended to `rejects`.
  DecodeStats DecodeNdjson(const PaddedBuffer& buf, Batch& batch, std::vector<Reject>* rejects);
  /// Same, over the range [begin, end) of a padded buffer (end may be before the buffer's end).
  DecodeStats DecodeNdjsonRange(const char* begin, const char* end, Batch& batch, std::vector<Reject>* rejects);

  /// Decodes an HTTP request body: one JSON object, {"events":[…]}, {"event":{…}} or a JSON
  /// array of objects.
  /// A body that is not JSON at all, or of another shape, is an error (nothing decoded);
  /// individual events that are not objects are rejected by index.
  Result<DecodeStats> DecodeDocument(const PaddedBuffer& buf, Batch& batch, std::vector<Reject>* rejects);

  const Layout& layout() const { return layout_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const Layout& layout_;
};

/// A decoder for this thread, for `layout` and `options` (created on first use, kept for the
/// thread's life). For code that runs on pool threads, such as deferred batch decoding.
JsonDecoder& ThreadDecoder(const Layout& layout, const DecodeOptions& options);

}  // namespace weir::codec
