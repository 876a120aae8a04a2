// An order-preserving, self-delimiting byte encoding of Values and tuples of Values.
//
// Used for group keys (hash-map keys and embedded-store keys), for the counted values that
// min/max/top_k/count_distinct keep, and anywhere Values must be compared as bytes. Numbers
// that are equal as SQL numbers encode the same (1 and 1.0 are one key); memcmp order of two
// encodings is CompareTotal order of the Values.
//
//   std::string key;
//   EncodeKey(Value::String("USD"), key);
//   EncodeKey(Value::Int(3), key);
//   std::string_view in = key;
//   Value a = DecodeKey(in);   // "USD" (pointing into `key`)
#pragma once

#include <string>
#include <string_view>

#include "weir/base/arena.h"
#include "weir/model/small_key.h"
#include "weir/model/value.h"

namespace weir {

/// Appends the encoding of `v` to `out`.
void EncodeKey(const Value& v, std::string& out);
/// Reads one encoded Value from the front of `in` and advances it. Strings point into `in`'s
/// bytes when they contain no 0x00 byte; otherwise they are unescaped into `arena`.
Value DecodeKey(std::string_view& in, Arena* arena = nullptr);

/// The encoding of a string of at most 12 bytes with no 0x00 byte, as a SmallKey (equal to
/// SmallKey::Of of the encoding), built in registers from the string's bytes. False, leaving
/// `key` alone, for any other string.
bool EncodeShortStringKey(std::string_view s, SmallKey& key);

}  // namespace weir
