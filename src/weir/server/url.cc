// Percent-encoding and query strings (RFC 3986 section 2.1, WHATWG application/x-www-form-urlencoded).
#include "weir/server/url.h"

namespace weir::server {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

}  // namespace

void PercentDecodeTo(std::string_view s, bool plus_as_space, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    // Copy runs without escapes in one go: most paths and values have none.
    size_t run = i;
    while (run < s.size() && s[run] != '%' && !(plus_as_space && s[run] == '+')) ++run;
    out.append(s.data() + i, run - i);
    i = run;
    if (i >= s.size()) break;
    if (s[i] == '+') {
      out.push_back(' ');
      ++i;
      continue;
    }
    int hi = i + 1 < s.size() ? HexValue(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
    if (hi >= 0 && lo >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 3;
    } else {
      out.push_back('%');
      ++i;
    }
  }
}

std::string PercentDecode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  PercentDecodeTo(s, plus_as_space, out);
  return out;
}

std::string PercentEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

void ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>& out) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    auto& [name, value] = out.emplace_back();
    PercentDecodeTo(piece.substr(0, eq), true, name);
    if (eq != std::string_view::npos) PercentDecodeTo(piece.substr(eq + 1), true, value);
  }
}

bool SplitTarget(std::string_view target, TargetParts& out) {
  if (target == "*") {
    out = {target, {}};
    return true;
  }
  if (!target.starts_with('/')) {
    // absolute-form, sent to proxies and accepted from clients by RFC 9112 section 3.2.2.
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return false;
    for (size_t i = 0; i < scheme_end; ++i) {
      char c = target[i];
      bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
      bool ok = alpha || (i > 0 && other);
      if (!ok) return false;
    }
    size_t path_start = target.find_first_of("/?", scheme_end + 3);
    if (path_start == std::string_view::npos) {
      out = {"/", {}};
      return true;
    }
    target = target.substr(path_start);
    if (target.starts_with('?')) {
      out = {"/", target.substr(1, target.find('#') - 1)};
      return true;
    }
  }
  // A fragment is never sent by conforming clients; drop one if it is.
  target = target.substr(0, target.find('#'));
  size_t q = target.find('?');
  if (q == std::string_view::npos) {
    out = {target, {}};
  } else {
    out = {target.substr(0, q), target.substr(q + 1)};
  }
  return true;
}

}  // namespace weir::server
