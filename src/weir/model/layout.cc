#include "weir/model/layout.h"

namespace weir {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) {
      parts.emplace_back(path.substr(start));
      break;
    }
    parts.emplace_back(path.substr(start, dot - start));
    start = dot + 1;
  }
  return parts;
}

uint32_t Layout::Intern(std::string_view path, bool computed) {
  if (auto slot = Find(path)) {
    Field& f = fields_[*slot];
    if (computed) f.computed = true;
    else if (!f.computed) f.input = true;
    return *slot;
  }
  fields_.push_back(Field{std::string(path), SplitPath(path), !computed, computed});
  return static_cast<uint32_t>(fields_.size() - 1);
}

std::optional<uint32_t> Layout::Find(std::string_view path) const {
  for (uint32_t i = 0; i < fields_.size(); ++i)
    if (fields_[i].path == path) return i;
  return std::nullopt;
}

}  // namespace weir
