// Collected, located configuration errors and the "did you mean" helper.
//
//   Diagnostics diags;
//   diags.Error({"p.yaml", 3, 5, "spec.metrics[0].window"}, "expected a map");
//   diags.Format();  // "p.yaml:3:5: spec.metrics[0].window: expected a map\n"
#include "weir/spec/diagnostics.h"

#include <algorithm>
#include <cctype>
#include <iterator>

#include <fmt/format.h>

namespace weir::spec {

void Diagnostics::Error(const Location& at, std::string message) {
  items_.push_back(Diagnostic{at, std::move(message), false});
  ++errors_;
}

void Diagnostics::Warning(const Location& at, std::string message) {
  items_.push_back(Diagnostic{at, std::move(message), true});
}

std::string Diagnostics::Format() const {
  std::string out;
  auto it = std::back_inserter(out);
  for (const Diagnostic& d : items_) {
    const Location& at = d.location;
    out += at.file.empty() ? std::string_view("<input>") : std::string_view(at.file);
    if (at.line > 0) fmt::format_to(it, ":{}:{}", at.line, at.column);
    out += ": ";
    if (d.warning) out += "warning: ";
    if (!at.path.empty()) fmt::format_to(it, "{}: ", at.path);
    out += d.message;
    out += '\n';
  }
  return out;
}

namespace {

// Optimal string alignment distance, case-insensitive: a transposed pair ("gruop") is one
// edit, which is the most common typo in keys.
size_t EditDistance(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  const size_t n = a.size(), m = b.size();
  std::vector<size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1]))
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

}  // namespace

std::optional<std::string> ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  const std::string w = lower(word);
  // Ranked by (kind, distance): a near spelling first, then a truncated or extended name
  // ("compression" for "compression_type").
  std::pair<int, size_t> best{2, 0};
  const std::string* found = nullptr;
  for (const std::string& c : candidates) {
    size_t longest = std::max(word.size(), c.size());
    // Short words tolerate one edit, longer ones a few; beyond that a hint misleads.
    size_t allowed = longest <= 3 ? 1 : longest <= 6 ? 2 : 3;
    size_t d = EditDistance(word, c);
    std::pair<int, size_t> rank{2, 0};
    if (d <= allowed && d < longest) {
      rank = {0, d};
    } else {
      const std::string l = lower(c);
      size_t shorter = std::min(w.size(), l.size());
      if (shorter >= 4 && (l.starts_with(w) || w.starts_with(l))) rank = {1, longest - shorter};
    }
    if (rank < best) {
      best = rank;
      found = &c;
    }
  }
  if (!found) return std::nullopt;
  return *found;
}

}  // namespace weir::spec
