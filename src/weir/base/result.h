// Result types for fallible calls: expected failures are values, not exceptions.
//
//   Result<int> ParsePort(std::string_view s);
//   WEIR_ASSIGN_OR_RETURN(int port, ParsePort(text));
//   if (auto st = Open(); !st) return st.error();
#pragma once

#include <expected>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace weir {

/// What went wrong, in words a user can act on.
struct Error {
  std::string message;

  Error() = default;
  explicit Error(std::string m) : message(std::move(m)) {}

  /// Returns a copy with `context: ` in front of the message.
  Error Wrap(std::string_view context) const { return Error(fmt::format("{}: {}", context, message)); }
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> Fail(std::string message) { return std::unexpected<Error>(Error(std::move(message))); }

template <class... Args>
std::unexpected<Error> Fail(fmt::format_string<Args...> f, Args&&... args) {
  return std::unexpected<Error>(Error(fmt::format(f, std::forward<Args>(args)...)));
}

inline Status Ok() { return {}; }

}  // namespace weir

#define WEIR_CONCAT_INNER(a, b) a##b
#define WEIR_CONCAT(a, b) WEIR_CONCAT_INNER(a, b)

#define WEIR_RETURN_IF_ERROR(...)                                         \
  do {                                                                    \
    if (auto weir_status_ = (__VA_ARGS__); !weir_status_)                 \
      return std::unexpected<::weir::Error>(std::move(weir_status_).error()); \
  } while (0)

#define WEIR_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)                        \
  auto tmp = (expr);                                                      \
  if (!tmp) return std::unexpected<::weir::Error>(std::move(tmp).error()); \
  lhs = std::move(*tmp)

#define WEIR_ASSIGN_OR_RETURN(lhs, expr) \
  WEIR_ASSIGN_OR_RETURN_IMPL(WEIR_CONCAT(weir_result_, __LINE__), lhs, expr)
