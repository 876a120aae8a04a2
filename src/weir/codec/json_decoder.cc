#include "weir/codec/json_decoder.h"

#include <bit>
#include <cstring>
#include <utility>

#include <simdjson.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <fmt/format.h>

namespace weir::codec {

namespace od = simdjson::ondemand;

// ---------------------------------------------------------------------------------------------
// PaddedBuffer

std::shared_ptr<PaddedBuffer> PaddedBuffer::Allocate(size_t capacity) {
  auto b = std::make_shared<PaddedBuffer>();
  b->storage_.resize(capacity + kPadding);
  b->data_ = b->storage_.data();
  b->capacity_ = capacity;
  b->Resize(0);
  return b;
}

std::shared_ptr<PaddedBuffer> PaddedBuffer::Copy(std::string_view bytes) {
  auto b = Allocate(bytes.size());
  if (!bytes.empty()) std::memcpy(b->data_, bytes.data(), bytes.size());
  b->Resize(bytes.size());
  return b;
}

std::shared_ptr<PaddedBuffer> PaddedBuffer::Adopt(std::string&& bytes) {
  auto b = std::make_shared<PaddedBuffer>();
  size_t n = bytes.size();
  b->storage_ = std::move(bytes);
  b->storage_.resize(n + kPadding);
  b->data_ = b->storage_.data();
  b->capacity_ = n;
  b->Resize(n);
  return b;
}

void PaddedBuffer::Resize(size_t n) {
  size_ = n;
  std::memset(data_ + n, 0, capacity_ + kPadding - n);
}

// ---------------------------------------------------------------------------------------------
// Path trie

namespace {

struct TrieNode {
  struct Child {
    std::string key;
    int32_t slot = -1;             ///< slot to fill with this key's value, or -1
    int32_t node = -1;             ///< child node index for deeper paths, or -1
    uint64_t gate_bit = 0;         ///< this key's bit among its node's keys (at the root: in the gate masks)
    bool event_time = false;       ///< at the root: the key whose value is read into Batch times
    bool gate_equals = false;      ///< at the root: the gate's only field, and its `equals` all on it
    uint64_t word = 0, word2 = 0;  ///< the key's bytes 0-7 and 8-15, little-endian
    uint64_t mask = 0, mask2 = 0;  ///< which bytes of the words are part of the key
    void Prepare() {
      auto part = [&](size_t from, uint64_t& w, uint64_t& m) {
        size_t n = key.size() > from ? std::min<size_t>(key.size() - from, 8) : 0;
        w = 0;
        if (n) std::memcpy(&w, key.data() + from, n);
        m = n == 8 ? ~0ULL : ((1ULL << (8 * n)) - 1);
      };
      part(0, word, mask);
      part(8, word2, mask2);
    }
  };
  std::vector<Child> children;
  uint64_t all = 0;  ///< every child's gate_bit (below the root, without envelopes): see Walk

  const Child* Find(std::string_view key) const {
    for (const Child& c : children)
      if (c.key == key) return &c;
    return nullptr;
  }
  /// Looks up a key as it appears in the input (after the opening quote, not unescaped): a
  /// byte compare plus a check that the key ends where ours does. Keys written with escape
  /// sequences do not match; field paths name plain keys.
  const Child* FindRaw(const char* raw) const {
    uint64_t x, y;
    std::memcpy(&x, raw, 8);  // in bounds: the input is padded
    std::memcpy(&y, raw + 8, 8);
    for (const Child& c : children) {
      if ((x & c.mask) != c.word || (y & c.mask2) != c.word2) continue;
      size_t n = c.key.size();
      if (n > 16 && std::memcmp(raw + 16, c.key.data() + 16, n - 16) != 0) continue;
      if (raw[n] == '"') return &c;
    }
    return nullptr;
  }
};

inline bool RawKeyIs(const char* raw, std::string_view key) {
  return std::memcmp(raw, key.data(), key.size()) == 0 && raw[key.size()] == '"';
}

std::string_view JsonTypeName(od::json_type t) {
  switch (t) {
    case od::json_type::array:
      return "array";
    case od::json_type::object:
      return "object";
    case od::json_type::number:
      return "number";
    case od::json_type::string:
      return "string";
    case od::json_type::boolean:
      return "boolean";
    case od::json_type::null:
      return "null";
  }
  return "value";
}

std::string JsonError(simdjson::error_code e) { return fmt::format("malformed JSON: {}", simdjson::error_message(e)); }

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// True when the whole document has been consumed (no trailing content).
template <class Doc>
bool AtEnd(Doc& doc) {
  return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

// Copies p[0, N) to `out` (N a multiple of 64, all N bytes readable), counts the double quotes
// among its first `n` bytes (n <= N) and says whether a backslash is among those n bytes. The
// bytes are scanned as loaded from `p` (loads of bytes just stored would wait for the stores).
struct QuoteScan {
  size_t quotes = 0;
  bool backslash = false;
};
template <size_t N>
QuoteScan CopyAndScanQuotes(const char* p, size_t n, char* out) {
  QuoteScan r;
#if defined(__AVX2__)
  const __m256i quote = _mm256_set1_epi8('"'), slash = _mm256_set1_epi8('\\');
  for (size_t i = 0; i < N; i += 64) {
    auto load = [&](size_t at) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + at)); };
    auto bits = [](__m256i lo, __m256i hi, __m256i c) {
      return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, c))) |
             static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, c)))) << 32;
    };
    __m256i lo = load(i), hi = load(i + 32);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), lo);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 32), hi);
    const uint64_t keep = n >= i + 64 ? ~0ULL : n > i ? (1ULL << (n - i)) - 1 : 0;
    r.quotes += static_cast<size_t>(std::popcount(bits(lo, hi, quote) & keep));
    r.backslash |= (bits(lo, hi, slash) & keep) != 0;
  }
#else
  std::memcpy(out, p, N);
  for (size_t i = 0; i < n; ++i) {
    r.quotes += p[i] == '"';
    r.backslash |= p[i] == '\\';
  }
#endif
  return r;
}

enum class Op : uint8_t { kNone, kInsert, kDelete, kUpdate };

Op ParseOp(std::string_view op) {
  if (op == "c" || op == "r" || op == "create" || op == "insert" || op == "i") return Op::kInsert;
  if (op == "u" || op == "update") return Op::kUpdate;
  if (op == "d" || op == "delete") return Op::kDelete;
  return Op::kNone;
}

}  // namespace

struct JsonDecoder::Impl {
  std::vector<TrieNode> nodes;  // nodes[0] is the root
  uint32_t width = 0;
  DecodeOptions options;
  // One parser per nesting level of re-parsing (envelope images, leaf-and-prefix paths).
  od::parser parsers[4];
  std::vector<Value> scratch;  // envelope-level values, copied under each image row
  std::vector<std::string_view> elements;
  // The gate (DecodeGate), as masks over the root's keys; gate == nullptr: decode everything.
  const DecodeGate* gate = nullptr;
  uint64_t decide_mask = 0, always_mask = 0;
  // Every key of the root (when there are at most 64 and no envelopes): once all are read, the
  // rest of an event is not parsed.
  uint64_t all_mask = 0;

  // Bits of the root's keys, for stopping early: once all are read (all_mask), or once the gate
  // has dropped the event and its `always` keys are read.
  void BuildEarlyStops(const Layout& layout) {
    const DecodeGate* g = options.envelopes ? nullptr : options.gate;
    auto& root = nodes[0].children;
    if (options.envelopes) return;
    for (TrieNode& n : nodes) {
      if (n.children.size() > 64 || n.children.empty()) continue;
      for (size_t i = 0; i < n.children.size(); ++i) n.children[i].gate_bit = 1ULL << i;
      n.all = n.children.size() == 64 ? ~0ULL : (1ULL << n.children.size()) - 1;
    }
    nodes[0].all = 0;  // the root stops by all_mask, in DecodeDoc
    if (root.size() > 64 || root.empty()) return;
    all_mask = root.size() == 64 ? ~0ULL : (1ULL << root.size()) - 1;
    if (!g || g->decide.empty() || !g->keep) return;
    auto mask_of = [&](const std::vector<uint32_t>& slots, uint64_t* mask) {
      for (uint32_t slot : slots) {
        if (slot >= layout.width() || !layout.field(slot).input || layout.field(slot).parts.size() != 1) return false;
        const TrieNode::Child* c = nodes[0].Find(layout.field(slot).parts[0]);
        if (!c || c->slot != static_cast<int32_t>(slot)) return false;
        *mask |= c->gate_bit;
      }
      return true;
    };
    if (!mask_of(g->decide, &decide_mask) || !mask_of(g->always, &always_mask)) {
      decide_mask = always_mask = 0;
      return;
    }
    gate = g;
    BuildProbes();
    // One field decides, by `equals` alone: prefix reads compare its string token directly.
    if (g->decide.size() == 1 && !g->equals.empty()) {
      bool all_on_it = true;
      for (const DecodeGate::Equals& e : g->equals) all_on_it &= e.slot == g->decide[0];
      if (all_on_it)
        for (auto& c : nodes[0].children)
          if (c.slot == static_cast<int32_t>(g->decide[0]) && c.node < 0) c.gate_equals = true;
    }
  }

  void Build(const Layout& layout) {
    nodes.emplace_back();
    width = layout.width();
    for (uint32_t slot = 0; slot < layout.width(); ++slot) {
      const Layout::Field& f = layout.field(slot);
      if (!f.input) continue;
      int32_t node = 0;
      for (size_t i = 0; i < f.parts.size(); ++i) {
        TrieNode::Child* c = nullptr;
        for (auto& ch : nodes[node].children)
          if (ch.key == f.parts[i]) c = &ch;
        if (!c) {
          nodes[node].children.push_back({f.parts[i], -1, -1});
          c = &nodes[node].children.back();
        }
        if (i + 1 == f.parts.size()) {
          c->slot = static_cast<int32_t>(slot);
        } else {
          if (c->node < 0) {
            int32_t idx = static_cast<int32_t>(nodes.size());
            c->node = idx;  // set before emplace_back invalidates `c`
            nodes.emplace_back();
          }
          node = c->node;
        }
      }
    }
    for (auto& n : nodes)
      for (auto& c : n.children) c.Prepare();
    BuildEarlyStops(layout);
    BuildEventTime(layout);
  }

  // The top-level key whose value the decoder turns into each record's event time.
  int32_t time_slot = -1;
  void BuildEventTime(const Layout& layout) {
    const DecodeGate* g = options.gate;
    if (options.envelopes || !g || g->time_slot < 0) return;
    const uint32_t slot = static_cast<uint32_t>(g->time_slot);
    if (slot >= layout.width() || !layout.field(slot).input || layout.field(slot).parts.size() != 1) return;
    for (auto& c : nodes[0].children) {
      if (c.slot != g->time_slot) continue;
      c.event_time = true;
      time_slot = g->time_slot;
    }
  }

  // Prefix reads (DecodeOptions::prefix_reads). A line's first kPrefix bytes are copied to
  // `prefix_copy` and closed (a quote if the cut fell inside a string, then `}`). While the copy
  // is decoded, `rebase` (non-zero) turns a pointer into the copy into one into the line. Fields
  // are read in the order of the text, so the copy settles the line when, once everything needed
  // has been read, the last value read ends before the cut (`prefix_end`, in the line): a string
  // whose closing quote, or raw JSON whose last byte, lies there. Else (a number, an object
  // walked for deeper paths) the key and colon of one more top-level field must be read: the
  // bytes added to close the copy hold no colon, so all before it is the line's own. Otherwise
  // the line is decoded whole.
  //
  // A line the gate probably keeps (its probe is in the first bytes, see `probes`), and any line
  // while short prefix reads are paused, is read from a longer copy, kLongPrefix bytes, through
  // to everything wanted (`prefix_keeps`): the fields wanted seldom all lie in the first kPrefix
  // bytes then, but often in the first kLongPrefix, which spares simdjson's first pass the rest
  // of the line.
  CanonicalTimeParser canonical_time;  // event times of the common shape
  static constexpr size_t kPrefix = 128;  // one step of simdjson's first pass
  static constexpr size_t kLongPrefix = 256;
  // The copy has a page of its own: placed among the other members, it made simdjson's first
  // pass over it measurably slower in some builds (a layout effect, not an instruction count).
  struct alignas(4096) CopyPage {
    char bytes[kLongPrefix + PaddedBuffer::kPadding] = {};
  };
  std::unique_ptr<CopyPage> copy_page = std::make_unique<CopyPage>();
  char* const prefix_copy = copy_page->bytes;
  ptrdiff_t rebase = 0;
  const char* prefix_end = nullptr;
  bool prefix_keeps = false;  // a kept event is read on in the copy, not left to a whole decode

  // True when `v`, read in a prefix read, ends before the cut (see prefix_copy).
  bool EndsBeforeCut(const Value& v) const {
    if (v.is_string()) return v.as_string().data() + v.as_string().size() < prefix_end;  // its closing quote too
    if (v.is_json()) return v.as_string().data() + v.as_string().size() <= prefix_end;
    return false;
  }
  // Tried and settled lines and their bytes in the current window (AdaptPrefix).
  uint64_t window_tries = 0, window_hits = 0, window_bytes = 0;
  uint64_t prefix_paused = 0;  // lines still to decode whole before trying prefix reads again
  // The same for long prefix reads (AdaptLongPrefix), counted in the lines that try them.
  uint64_t long_tries = 0, long_hits = 0, long_paused = 0;

  std::string_view Rebased(std::string_view s) const { return {s.data() + rebase, s.size()}; }

  // Reads a scalar (or raw object/array) into *out.
  simdjson::error_code ReadValue(od::value v, Value* out, Arena& arena) {
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    switch (t) {
      case od::json_type::string: {
        std::string_view tok = TrimRight(v.raw_json_token());
        std::string_view inner = tok.substr(1, tok.size() - 2);
        // (A prefix read, rebase != 0, has checked its copy holds no backslash.)
        if (rebase != 0 || inner.find('\\') == std::string_view::npos) {
          *out = Value::String(Rebased(inner));
        } else {
          std::string_view s;
          if (auto e = v.get_string().get(s)) return e;
          *out = Value::String(arena.Copy(s));
        }
        return simdjson::SUCCESS;
      }
      case od::json_type::number: {
        od::number n;
        if (auto e = v.get_number().get(n)) return e;
        switch (n.get_number_type()) {
          case od::number_type::signed_integer:
            *out = Value::Int(n.get_int64());
            break;
          case od::number_type::unsigned_integer:
            *out = Value::Double(static_cast<double>(n.get_uint64()));
            break;
          default:
            *out = Value::Double(n.get_double());
            break;
        }
        return simdjson::SUCCESS;
      }
      case od::json_type::boolean: {
        bool b;
        if (auto e = v.get_bool().get(b)) return e;
        *out = Value::Bool(b);
        return simdjson::SUCCESS;
      }
      case od::json_type::null: {
        bool is_null;
        if (auto e = v.is_null().get(is_null)) return e;
        *out = Value::Null();
        return simdjson::SUCCESS;
      }
      case od::json_type::object: {
        od::object o;
        if (auto e = v.get_object().get(o)) return e;
        std::string_view raw;
        if (auto e = o.raw_json().get(raw)) return e;
        *out = Value::Json(Rebased(TrimRight(raw)));
        return simdjson::SUCCESS;
      }
      case od::json_type::array: {
        od::array a;
        if (auto e = v.get_array().get(a)) return e;
        std::string_view raw;
        if (auto e = a.raw_json().get(raw)) return e;
        *out = Value::Json(Rebased(TrimRight(raw)));
        return simdjson::SUCCESS;
      }
    }
    return simdjson::INCORRECT_TYPE;
  }

  // Walks `obj` against trie node `node`, filling `row`. Like the top level, a nested object is
  // read only until every key of its node has been seen (without envelopes); then `walk_last` is
  // the last leaf value read, when it was a leaf (or a nested object that stopped the same way),
  // else null. Its end tells a prefix read whether the object settled it (see prefix_copy).
  const Value* walk_last = nullptr;
  simdjson::error_code Walk(od::object obj, int32_t node, Value* row, Arena& arena, int depth) {
    const uint64_t all = nodes[node].all;
    uint64_t seen = 0;
    for (auto field : obj) {
      od::field f;
      if (auto e = std::move(field).get(f)) return e;
      const TrieNode::Child* c = nodes[node].FindRaw(f.key().raw());
      if (!c) continue;
      od::value v = f.value();
      if (auto e = Fill(v, *c, row, arena, depth)) return e;
      if (all != 0 && (seen |= c->gate_bit) == all) {
        walk_last = c->node < 0 ? &row[c->slot] : c->slot < 0 ? walk_last : nullptr;
        return simdjson::SUCCESS;
      }
    }
    walk_last = nullptr;
    return simdjson::SUCCESS;
  }

  simdjson::error_code Fill(od::value v, const TrieNode::Child& c, Value* row, Arena& arena, int depth) {
    if (c.node < 0) return ReadValue(v, &row[c.slot], arena);
    walk_last = nullptr;  // until a Walk below says otherwise
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t != od::json_type::object) {
      // A path runs through a non-object: deeper fields are absent (null).
      if (c.slot >= 0) return ReadValue(v, &row[c.slot], arena);
      return simdjson::SUCCESS;  // On-Demand skips an unread value by itself
    }
    if (c.slot < 0) {
      od::object o;
      if (auto e = v.get_object().get(o)) return e;
      return Walk(o, c.node, row, arena, depth);
    }
    // Both a leaf (raw object wanted) and a prefix of deeper paths: keep the raw text, then
    // walk it again with a parser of the next level.
    if (auto e = ReadValue(v, &row[c.slot], arena)) return e;
    // (In a prefix read the text is already the line's own: not to be rebased again.)
    const ptrdiff_t saved_rebase = std::exchange(rebase, 0);
    auto e = WalkRaw(row[c.slot].as_string(), c.node, row, arena, depth + 1);
    rebase = saved_rebase;
    return e;
  }

  simdjson::error_code WalkRaw(std::string_view raw, int32_t node, Value* row, Arena& arena, int depth) {
    if (depth >= 4) return simdjson::DEPTH_ERROR;
    od::document doc;
    // The raw text lies inside a padded input buffer, so reading past its end is safe.
    if (auto e = parsers[depth].iterate(raw.data(), raw.size(), raw.size() + PaddedBuffer::kPadding).get(doc)) return e;
    od::object o;
    if (auto e = doc.get_object().get(o)) return e;
    return Walk(o, node, row, arena, depth);
  }

  // Gate probes: the gate's `equals` texts as they appear, quoted, in the input. A line whose
  // first bytes hold one is likely kept by the gate, and the fields of a kept event seldom all lie
  // in a short prefix: it goes to a long prefix read (or a whole decode) straight away. (A probe
  // found elsewhere in the line, say as a key, changes no outcome.)
  std::vector<std::string> probes;
  void BuildProbes() {
    if (gate->equals.size() > 4) return;
    for (const DecodeGate::Equals& e : gate->equals) {
      if (e.text.size() < 2 || e.text.size() > 64 || e.text.find_first_of("\"\\") != std::string_view::npos) {
        probes.clear();
        return;
      }
      probes.push_back("\"" + std::string(e.text) + "\"");
    }
  }
  // True if one of the probes lies within p[0, n); p must have 32 readable bytes past n.
  bool Probed(const char* p, size_t n) const {
    for (const std::string& probe : probes) {
      const size_t m = probe.size();
      if (m > n) continue;
#if defined(__AVX2__)
      // Candidates by the text's first and last bytes (the quotes around it are in every JSON
      // string), then compared whole.
      const __m256i first = _mm256_set1_epi8(probe[1]), last = _mm256_set1_epi8(probe[m - 2]);
      for (size_t i = 0; i + m <= n; i += 32) {
        __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 1));
        __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + m - 2));
        auto hits = static_cast<uint32_t>(
            _mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(b, last))));
        for (; hits != 0; hits &= hits - 1) {
          const size_t at = i + static_cast<size_t>(std::countr_zero(hits));
          if (at + m <= n && std::memcmp(p + at, probe.data(), m) == 0) return true;
        }
      }
#else
      if (std::string_view(p, n).find(probe) != std::string_view::npos) return true;
#endif
    }
    return false;
  }

  // Decodes one NDJSON line, from a prefix of it when that is enough (DecodeOptions::prefix_reads).
  Status DecodeLine(const char* begin, size_t len, Batch& batch, DecodeStats& stats) {
    if (len >= kPrefix + 64 && all_mask != 0 && options.prefix_reads) {
      std::string_view raw = TrimRight(std::string_view(begin, len));
      if (raw.size() <= options.max_event_bytes && raw.back() == '}') {
        if (!probes.empty() && Probed(raw.data(), kPrefix - 2)) return DecodeLong(raw, batch, stats);
        if (prefix_paused > 0) {
          --prefix_paused;
          return DecodeLong(raw, batch, stats);
        }
        bool hit = TryPrefix<kPrefix>(raw, batch);
        AdaptPrefix(hit, raw.size());
        if (hit) {
          ++stats.prefix_reads;
          return Ok();
        }
      }
    }
    return Decode(begin, len, batch, 0);
  }

  // A line the gate probably keeps, or any line while short prefix reads do not pay: from a long
  // prefix when that settles it.
  [[gnu::noinline]] Status DecodeLong(std::string_view raw, Batch& batch, DecodeStats& stats) {
    if (long_paused > 0) {
      --long_paused;
    } else if (raw.size() > kLongPrefix) {
      bool hit = TryPrefix<kLongPrefix>(raw, batch);
      AdaptLongPrefix(hit);
      if (hit) {
        ++stats.prefix_reads;
        return Ok();
      }
    }
    return Decode(raw.data(), raw.size(), batch, 0);
  }

  // Decodes `raw` from a closed copy of its first N bytes; true if that settled it. The short
  // copy leaves a kept event to a whole decode, the long one reads it on.
  template <size_t N>
  bool TryPrefix(std::string_view raw, Batch& batch) {
    const char* line = raw.data();
    size_t cut = N - 2;
    while (cut > 0 && (static_cast<uint8_t>(line[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
    char* copy = prefix_copy;
    QuoteScan scan = CopyAndScanQuotes<N>(line, cut, copy);
    if (scan.backslash) return false;  // escapes: quote parity alone does not say where strings end
    for (size_t i = cut; i < N - 2; ++i) copy[i] = ' ';
    copy[N - 2] = scan.quotes % 2 ? '"' : ' ';
    copy[N - 1] = '}';
    od::document doc;
    if (parsers[0].iterate(copy, N, N + PaddedBuffer::kPadding).get(doc)) return false;
    rebase = line - copy;  // never 0: the copy is not the line
    prefix_end = line + cut;
    prefix_keeps = N == kLongPrefix;
    const size_t rows = batch.size();
    (void)DecodeDoc</*kFromCopy=*/true>(doc, raw, batch, 0);  // adds the row only if settled
    rebase = 0;
    return batch.size() > rows;
  }

  // Keeps long prefix reads on while nearly all settle (one that does not costs about three
  // times what one that does spares): below 80% over a window of 256, they pause for 2^16
  // of the lines that would try them.
  void AdaptLongPrefix(bool hit) {
    long_hits += hit;
    if (++long_tries < 256) return;
    if ((long_tries - long_hits) * 5 > long_tries) long_paused = 1 << 16;
    long_tries = long_hits = 0;
  }

  // Keeps prefix reads on while they pay: over each window of 1024 tried lines, the bytes that
  // settled lines did not scan must exceed what unsettled lines cost twice (their copy, counted
  // as 256 bytes). Otherwise they pause for 2^18 lines, then are tried again.
  void AdaptPrefix(bool hit, size_t bytes) {
    window_hits += hit;
    window_bytes += bytes;
    if (++window_tries < 1024) return;
    const uint64_t misses = window_tries - window_hits;
    const uint64_t unscanned = window_bytes > kPrefix * window_tries ? window_bytes - kPrefix * window_tries : 0;
    if (window_hits * unscanned <= misses * 2 * kPrefix * window_tries) prefix_paused = 1 << 18;
    window_tries = window_hits = window_bytes = 0;
  }

  // Decodes one top-level object into one or two rows. `depth` selects the parser.
  Status Decode(const char* begin, size_t len, Batch& batch, int depth) {
    std::string_view raw = TrimRight(std::string_view(begin, len));
    if (raw.size() > options.max_event_bytes)
      return Fail("event of {} bytes is larger than the limit of {} bytes", raw.size(), options.max_event_bytes);
    od::document doc;
    if (auto e = parsers[depth].iterate(raw.data(), raw.size(), raw.size() + PaddedBuffer::kPadding).get(doc))
      return Fail(JsonError(e));
    return DecodeDoc<false>(doc, raw, batch, depth);
  }

  // Decodes a parsed document (a whole one, or one of a document stream) whose text is `raw`.
  // kFromCopy: a prefix read (see prefix_copy), at depth 0 without envelopes; a line it does not
  // settle leaves no row and no error.
  template <bool kFromCopy, class Doc>
  Status DecodeDoc(Doc& doc, std::string_view raw, Batch& batch, int depth) {
    od::json_type t;
    if (auto e = doc.type().get(t)) return Fail(JsonError(e));
    if (t != od::json_type::object) return Fail("event is not a JSON object (found {})", JsonTypeName(t));
    od::object obj;
    if (auto e = doc.get_object().get(obj)) return Fail(JsonError(e));

    // (Asked before the row is added: times can be turned on only in an empty batch.)
    const bool times = time_slot >= 0 && depth == 0 && batch.TimesFor(static_cast<uint32_t>(time_slot));
    size_t row_index = batch.AddRow(+1, raw);
    Value* row = batch.row(row_index);
    std::string_view op_text, before, after, payload;
    bool has_op = false;
    Arena& arena = batch.arena();
    simdjson::error_code err = simdjson::SUCCESS;
    // Gate: 0 undecided, 1 keep (read everything), 2 dropped (read only the `always` fields).
    int gate_state = gate && depth == 0 ? 0 : 1;
    const bool track = all_mask != 0 && depth == 0;
    uint64_t seen = 0;
    bool cut_short = false;
    // Prefix read: once all is read, one more key may be (`finishing`), see prefix_copy.
    constexpr bool prefix = kFromCopy;
    bool finishing = false;
    for (auto field : obj) {
      od::field fld;
      if ((err = std::move(field).get(fld))) break;
      if (prefix && finishing) {
        cut_short = true;
        break;
      }
      const char* key = fld.key().raw();
      od::value v = fld.value();
      bool special = false;
      std::string_view* capture = nullptr;
      if (!prefix && options.envelopes) {  // (prefix reads are for lines without envelopes)
        if (RawKeyIs(key, "op")) {
          od::json_type vt;
          if ((err = v.type().get(vt))) break;
          if (vt == od::json_type::string) {
            std::string_view tok = TrimRight(v.raw_json_token());
            op_text = tok.substr(1, tok.size() - 2);
            has_op = true;
            special = true;
          }
        } else if (RawKeyIs(key, "before")) {
          capture = &before;
        } else if (RawKeyIs(key, "after")) {
          capture = &after;
        } else if (RawKeyIs(key, "payload")) {
          capture = &payload;
        }
      }
      const TrieNode::Child* c = nodes[0].FindRaw(key);
      if (capture) {
        // Keep the raw text; a path may still want it (decoded from the text afterwards).
        Value tmp;
        if ((err = ReadValue(v, &tmp, arena))) break;
        *capture = tmp.is_json() ? tmp.as_string() : std::string_view();
        if (c) {
          if (c->slot >= 0) row[c->slot] = tmp;
          if (c->node >= 0 && tmp.is_json() && tmp.as_string().front() == '{') {
            if ((err = WalkRaw(tmp.as_string(), c->node, row, arena, depth + 1))) break;
          }
        }
        continue;
      }
      if (!c) continue;
      if (special) {
        if (c->slot >= 0) row[c->slot] = Value::String(op_text);
        continue;
      }
      if (gate_state == 2 && !(c->gate_bit & always_mask)) continue;
      bool decided = false;
      if constexpr (prefix) {
        // (Not when this field completes what is wanted: then nothing decides, as below.)
        if (c->gate_equals && gate_state == 0 && (seen | c->gate_bit) != all_mask) {
          // The gate's string, as Fill would read it (the copy holds no backslash), compared to
          // its texts without a call to Keeps.
          const std::string_view tok = TrimRight(v.raw_json_token());
          if (tok.size() >= 2 && tok.front() == '"') {
            const std::string_view inner = tok.substr(1, tok.size() - 2);
            row[c->slot] = Value::String(Rebased(inner));
            bool keep = false;
            for (const DecodeGate::Equals& e : gate->equals) keep |= inner == e.text;
            if (keep && !prefix_keeps) break;  // kept: decoded whole (see below)
            gate_state = keep ? 1 : 2;
            if (!keep) batch.MarkFiltered(row_index);
            decided = true;
          }
        }
      }
      if (!decided && (err = Fill(v, *c, row, arena, depth))) break;
      if (times && c->event_time) {
        // (As EventTimeOf, with the common string shape parsed inline.)
        const Value& tv = row[c->slot];
        std::optional<Timestamp> t = tv.is_string() ? canonical_time.Parse(tv.as_string()) : std::nullopt;
        if (!t) t = EventTimeOf(tv);
        batch.SetTime(row_index, t ? *t : kMinTimestamp);
      }
      seen |= c->gate_bit;
      // Every field wanted has been read, or the gate dropped the event and its event time has
      // been read: the rest is not parsed.
      bool done = track && seen == all_mask;
      if (!done && gate_state != 1) {
        if (gate_state == 0 && (seen & decide_mask) == decide_mask) {
          gate_state = gate->Keeps(row, arena) ? 1 : 2;
          if (gate_state == 2) batch.MarkFiltered(row_index);
          // A kept event is read whole: what its metrics need seldom all lies in a short prefix.
          if (gate_state == 1 && prefix && !prefix_keeps) break;
        }
        done = gate_state == 2 && (seen & always_mask) == always_mask;
      }
      if (done) {
        if constexpr (prefix) {
          // The last value read: this field's, or the last of those an object walked for deeper
          // paths read before it stopped (Walk).
          const Value* last = c->node < 0 ? &row[c->slot] : c->slot < 0 && !decided ? walk_last : nullptr;
          if (!last || !EndsBeforeCut(*last)) {
            finishing = true;
            continue;
          }
        }
        cut_short = true;
        break;
      }
    }
    if constexpr (prefix) {
      // Whatever the copy could not settle is left to a decode of the whole line.
      if (err || !cut_short) batch.PopRow();
      return Ok();
    }
    // (A document of a stream ends where simdjson found its end; a standalone one must end
    // with its text.)
    if constexpr (std::is_same_v<Doc, od::document>) {
      if (!err && !cut_short && !AtEnd(doc)) err = simdjson::TRAILING_CONTENT;
    }
    if (err) {
      batch.PopRow();
      return Fail(JsonError(err));
    }

    if (!options.envelopes) return Ok();
    if (!has_op && !payload.empty() && payload.front() == '{') {
      // Debezium with schema: {"schema":…, "payload":{op, before, after, …}}.
      batch.PopRow();
      if (depth + 1 >= 4) return Fail("change envelope nested too deeply");
      size_t before_rows = batch.size();
      if (auto st = Decode(payload.data(), payload.size(), batch, depth + 1); !st) return st;
      for (size_t i = before_rows; i < batch.size(); ++i) batch.SetRaw(i, raw);
      return Ok();
    }
    if (!has_op || (before.empty() && after.empty())) return Ok();
    Op op = ParseOp(op_text);
    if (op == Op::kNone) {
      batch.PopRow();
      return Fail("change envelope has unknown op '{}'; expected c, r, u or d", op_text);
    }
    // Envelope: the row decoded so far holds envelope-level fields (ts_ms, source, op, …);
    // each image starts from those and is overlaid with the image's own fields.
    scratch.assign(row, row + width);
    batch.PopRow();
    auto image = [&](std::string_view text, int8_t weight) -> Status {
      if (text.empty() || text.front() != '{')
        return Fail("change envelope with op '{}' has no '{}' image", op_text, weight < 0 ? "before" : "after");
      size_t i = batch.AddRow(weight, raw);
      Value* r = batch.row(i);
      std::copy(scratch.begin(), scratch.end(), r);
      if (auto e = WalkRaw(text, 0, r, arena, depth + 1)) {
        batch.PopRow();
        return Fail(JsonError(e));
      }
      return Ok();
    };
    if (op == Op::kDelete || op == Op::kUpdate) WEIR_RETURN_IF_ERROR(image(before, -1));
    if (op == Op::kInsert || op == Op::kUpdate) {
      if (auto st = image(after, +1); !st) {
        if (op == Op::kUpdate) batch.PopRow();
        return st;
      }
    }
    return Ok();
  }
};

JsonDecoder::JsonDecoder(const Layout& layout, DecodeOptions options)
    : impl_(std::make_unique<Impl>()), layout_(layout) {
  impl_->options = options;
  impl_->Build(layout);
}

JsonDecoder::~JsonDecoder() = default;

Status JsonDecoder::DecodeObject(const char* begin, size_t len, Batch& batch) {
  return impl_->Decode(begin, len, batch, 0);
}

// Line by line: a document stream over the whole range (one simdjson iterate_many) was measured
// to cost 8% more instructions than one iterate per line (callgrind, Q1, 200k events), and a
// line is also the unit of a reject.
DecodeStats JsonDecoder::DecodeNdjsonRange(const char* begin, const char* end, Batch& batch,
                                           std::vector<Reject>* rejects) {
  DecodeStats st;
  size_t index = 0;
  const char* p = begin;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* line_end = nl ? nl : end;
    const char* b = p;
    while (b < line_end && (*b == ' ' || *b == '\t' || *b == '\r')) ++b;
    if (b < line_end) {
      if (auto s = impl_->DecodeLine(b, static_cast<size_t>(line_end - b), batch, st); s) {
        ++st.events;
      } else {
        ++st.rejected;
        if (rejects) rejects->push_back({index, std::move(s.error().message)});
      }
      ++index;
    }
    st.lines += nl != nullptr;
    p = nl ? nl + 1 : end;
  }
  return st;
}

DecodeStats JsonDecoder::DecodeNdjson(const PaddedBuffer& buf, Batch& batch, std::vector<Reject>* rejects) {
  return DecodeNdjsonRange(buf.data(), buf.data() + buf.size(), batch, rejects);
}

Result<DecodeStats> JsonDecoder::DecodeDocument(const PaddedBuffer& buf, Batch& batch, std::vector<Reject>* rejects) {
  std::string_view text = buf.view();
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos)
    return Fail("request body is empty; expected a JSON object, {\"events\":[...]}, or NDJSON");
  DecodeStats st;
  Impl& im = *impl_;
  auto decode_elements = [&]() -> DecodeStats {
    DecodeStats s;
    for (size_t i = 0; i < im.elements.size(); ++i) {
      std::string_view e = im.elements[i];
      if (e.empty() || e.front() != '{') {
        ++s.rejected;
        if (rejects) rejects->push_back({i, "event is not a JSON object"});
        continue;
      }
      if (auto r = im.Decode(e.data(), e.size(), batch, 0); r) {
        ++s.events;
      } else {
        ++s.rejected;
        if (rejects) rejects->push_back({i, std::move(r.error().message)});
      }
    }
    return s;
  };
  auto collect_array = [&](od::array arr) -> simdjson::error_code {
    im.elements.clear();
    for (auto el : arr) {
      od::value v;
      if (auto e = el.get(v)) return e;
      od::json_type t;
      if (auto e = v.type().get(t)) return e;
      if (t == od::json_type::object) {
        od::object o;
        if (auto e = v.get_object().get(o)) return e;
        std::string_view raw;
        if (auto e = o.raw_json().get(raw)) return e;
        im.elements.push_back(TrimRight(raw));
      } else {
        im.elements.push_back({});  // rejected later by index; the value is skipped
      }
    }
    return simdjson::SUCCESS;
  };

  od::parser& parser = im.parsers[0];
  od::document doc;
  if (auto e = parser.iterate(buf.data(), buf.size(), buf.capacity() + PaddedBuffer::kPadding).get(doc))
    return Fail(JsonError(e));
  od::json_type t;
  if (auto e = doc.type().get(t)) return Fail(JsonError(e));
  if (t == od::json_type::array) {
    od::array arr;
    if (auto e = doc.get_array().get(arr)) return Fail(JsonError(e));
    if (auto e = collect_array(arr)) return Fail(JsonError(e));
    if (!AtEnd(doc)) return Fail(JsonError(simdjson::TRAILING_CONTENT));
    return decode_elements();
  }
  if (t != od::json_type::object)
    return Fail("request body is a JSON {}; expected an object, {{\"events\":[...]}}, or NDJSON", JsonTypeName(t));
  // {"events":[…]} (the only key) is a batch; any other object is one event.
  od::object obj;
  if (auto e = doc.get_object().get(obj)) return Fail(JsonError(e));
  bool batch_form = false;
  size_t keys = 0;
  simdjson::error_code err = simdjson::SUCCESS;
  for (auto field : obj) {
    ++keys;
    std::string_view key;
    if ((err = field.unescaped_key().get(key))) break;
    od::value v;
    if ((err = field.value().get(v))) break;
    od::json_type vt;
    if ((err = v.type().get(vt))) break;
    if (keys == 1 && key == "event" && vt == od::json_type::object) {
      // {"event": {…}}: one event, wrapped (as seed 003's clients send it).
      od::object o;
      if ((err = v.get_object().get(o))) break;
      std::string_view raw;
      if ((err = o.raw_json().get(raw))) break;
      im.elements.assign(1, TrimRight(raw));
      batch_form = true;
    } else if (keys == 1 && key == "events" && vt == od::json_type::array) {
      od::array arr;
      if ((err = v.get_array().get(arr))) break;
      if ((err = collect_array(arr))) break;
      batch_form = true;
    } else {
      batch_form = false;
    }
  }
  if (!err && !AtEnd(doc)) err = simdjson::TRAILING_CONTENT;
  if (err) return Fail(JsonError(err));
  if (batch_form && keys == 1) return decode_elements();
  if (auto r = im.Decode(text.data() + start, text.size() - start, batch, 0); r) {
    st.events = 1;
  } else {
    st.rejected = 1;
    if (rejects) rejects->push_back({0, std::move(r.error().message)});
  }
  return st;
}

JsonDecoder& ThreadDecoder(const Layout& layout, const DecodeOptions& options) {
  struct Entry {
    const Layout* layout;
    size_t max_event_bytes;
    bool envelopes;
    const DecodeGate* gate;
    bool prefix_reads;
    std::unique_ptr<JsonDecoder> decoder;
  };
  thread_local std::vector<Entry> cache;
  for (auto& e : cache)
    if (e.layout == &layout && e.max_event_bytes == options.max_event_bytes && e.envelopes == options.envelopes &&
        e.gate == options.gate && e.prefix_reads == options.prefix_reads)
      return *e.decoder;
  cache.push_back({&layout, options.max_event_bytes, options.envelopes, options.gate, options.prefix_reads,
                   std::make_unique<JsonDecoder>(layout, options)});
  return *cache.back().decoder;
}

}  // namespace weir::codec
