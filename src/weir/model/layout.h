// Which field of a record lives in which slot.
//
// At plan time every field path the pipeline reads (in filters, computed fields, metrics) is
// interned here and gets a slot number; decoders fill those slots and nothing else, so JSON is
// parsed once into exactly what the pipeline needs.
//
//   Layout layout;
//   uint32_t amount = layout.Intern("properties.amount");
//   uint32_t hour = layout.Intern("hour", /*computed=*/true);   // written by a `set` processor
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir {

/// Splits "properties.amount" into {"properties", "amount"}.
std::vector<std::string> SplitPath(std::string_view path);

/// The slots of a pipeline's records. Built once at plan time, read-only while running.
class Layout {
 public:
  struct Field {
    std::string path;                ///< "properties.amount"
    std::vector<std::string> parts;  ///< {"properties", "amount"}
    bool input = false;              ///< read from input by decoders
    bool computed = false;           ///< written by a processor
  };

  /// Returns the slot of `path`, adding it if new. A path read before a processor computes it
  /// is both input and computed (`set: {amount: amount * 100}` reads, then overwrites); a path
  /// read only after it has been computed is not decoded from input.
  uint32_t Intern(std::string_view path, bool computed = false);
  std::optional<uint32_t> Find(std::string_view path) const;

  const std::vector<Field>& fields() const { return fields_; }
  const Field& field(uint32_t slot) const { return fields_[slot]; }
  uint32_t width() const { return static_cast<uint32_t>(fields_.size()); }

 private:
  std::vector<Field> fields_;
};

}  // namespace weir
