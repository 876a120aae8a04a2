// URL pieces: percent-decoding and -encoding, query strings, splitting a request-target.
//
//   std::string p = PercentDecode("/a%2Fb");               // "/a/b"
//   HeaderList q; ParseQuery("x=1&y=a+b%21", q);            // {{"x","1"},{"y","a b!"}}
//   std::string t = "/api/v1/metrics?where=" + PercentEncode("country = 'DE'");
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::server {

/// Appends the decoding of `s` to `out`. "%XX" becomes the byte XX; a '%' not followed by two
/// hex digits is kept as is (lenient, as browsers are). With `plus_as_space`, '+' becomes ' '
/// (query strings and forms).
void PercentDecodeTo(std::string_view s, bool plus_as_space, std::string& out);
std::string PercentDecode(std::string_view s, bool plus_as_space = false);

/// Encodes every byte except the unreserved characters A-Z a-z 0-9 - . _ ~ (and '/' when
/// `keep_slash`), for building targets.
std::string PercentEncode(std::string_view s, bool keep_slash = false);

/// Appends the decoded `name=value` pairs of `query` (without the '?') to `out`, in order.
/// Empty pieces ("a=1&&b=2") are skipped; a name without '=' gets an empty value.
void ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>& out);

/// A request-target split into its raw path and query. The absolute form
/// ("http://host:8080/x?y") is reduced to its path; "*" (OPTIONS) is kept as the path.
struct TargetParts {
  std::string_view path;   ///< raw, still percent-encoded; never empty for a valid target
  std::string_view query;  ///< raw, without the '?'; empty if there is none
};
/// Returns false for a target that is neither origin-form, absolute-form nor "*".
bool SplitTarget(std::string_view target, TargetParts& out);

}  // namespace weir::server
