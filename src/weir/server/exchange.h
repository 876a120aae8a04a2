// Internal to the server module: the receiving end of a Responder, and small text helpers
// shared by the server, the router and the client. Not part of the public API.
//
//   class Connection : public detail::Exchange { ... };   // connection.h
//   Responder done(connection_ptr, sequence);              // what a handler receives
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "weir/server/http_server.h"

namespace weir::server::detail {

/// Receives the answer of the request numbered `sequence`. Implementations accept exactly one
/// of Complete/Abandon/StartStream per sequence and ignore the rest; all are callable from
/// any thread.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual void Complete(uint64_t sequence, Response&& response) = 0;
  /// The Responder was destroyed without answering.
  virtual void Abandon(uint64_t sequence) = 0;
  /// Returns nullptr if the request was answered already.
  virtual std::shared_ptr<Stream> StartStream(uint64_t sequence, StreamOptions&& options) = 0;
};

/// Appends `s` as the inside of a JSON string: quotes, backslashes and control characters are
/// escaped, and bytes that are not valid UTF-8 become U+FFFD so the result is always valid JSON.
void AppendJsonEscaped(std::string& out, std::string_view s);

/// ASCII case-insensitive equality, for header names and tokens.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

/// "Not Found" for 404; "" for codes without a standard phrase.
std::string_view ReasonPhrase(int status);

/// Whether a response with this status carries no body (1xx, 204, 304).
inline bool StatusHasNoBody(int status) { return status < 200 || status == 204 || status == 304; }

/// Whether `name` is a valid header name (an RFC 9110 token) and `value` has no CR, LF or NUL.
bool IsValidHeader(std::string_view name, std::string_view value);

}  // namespace weir::server::detail
