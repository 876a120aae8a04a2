// Scenario param parsing; see params.h.
#include "weir/simulate/params.h"

#include <charconv>
#include <cmath>
#include <string>

namespace weir::simulate {

Result<uint64_t> ParamReader::Count(std::string_view name, uint64_t def, uint64_t min, uint64_t max) const {
  auto it = params_.find(name);
  if (it == params_.end()) return def;
  const std::string& text = it->second;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size())
    return Fail("scenario '{}': param '{}' must be a whole number, got '{}'", scenario_, name, text);
  if (v < min || v > max)
    return Fail("scenario '{}': param '{}' must be between {} and {}, got {}", scenario_, name, min, max, v);
  return v;
}

Result<double> ParamReader::Number(std::string_view name, double def, double min, double max) const {
  auto it = params_.find(name);
  if (it == params_.end()) return def;
  const std::string& text = it->second;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
    return Fail("scenario '{}': param '{}' must be a number, got '{}'", scenario_, name, text);
  if (v < min || v > max)
    return Fail("scenario '{}': param '{}' must be between {} and {}, got {}", scenario_, name, min, max, v);
  return v;
}

Result<size_t> ParamReader::Choice(std::string_view name, size_t def,
                                   std::span<const std::string_view> choices) const {
  auto it = params_.find(name);
  if (it == params_.end()) return def;
  for (size_t i = 0; i < choices.size(); ++i)
    if (choices[i] == it->second) return i;
  std::string list;
  for (std::string_view c : choices) {
    if (!list.empty()) list += ", ";
    list += c;
  }
  return Fail("scenario '{}': param '{}' must be one of {}, got '{}'", scenario_, name, list, it->second);
}

Status ParamReader::CheckAllKnown() const {
  for (const auto& [name, value] : params_) {
    bool found = false;
    for (const ParamInfo& p : known_) found = found || p.name == name;
    if (found) continue;
    std::string list;
    for (const ParamInfo& p : known_) {
      if (!list.empty()) list += ", ";
      list += p.name;
    }
    return Fail("scenario '{}' has no param '{}'; known params: {}", scenario_, name, list);
  }
  return Ok();
}

Status ValidateCommonOptions(const Options& o) {
  if (!(o.events_per_second_of_event_time > 0) || !std::isfinite(o.events_per_second_of_event_time))
    return Fail("events_per_second_of_event_time must be a positive number, got {}",
                o.events_per_second_of_event_time);
  if (o.max_disorder < 0) return Fail("max_disorder must not be negative, got {} ms", o.max_disorder);
  return Ok();
}

}  // namespace weir::simulate
