// Located YAML nodes, typed getters that record errors instead of throwing, ${VAR} substitution
// and byte sizes.
//
//   ConfigReader r(source.config, diags);
//   std::string path = r.String("path", "/api/v1/events");
//   int64_t max_body = r.Bytes("max_body", 1 << 20);
//   r.RejectUnknownKeys();
//
// yaml-cpp's own accessors throw (operator[] on a scalar, as<T>() on a bad value), so this file
// only asks nodes for their type, scalar text, mark and children.
#include "weir/spec/config_node.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

namespace weir::spec {
namespace {

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

bool IsVarName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    bool ok = c == '_' || std::isalpha(c) || (i > 0 && std::isdigit(c));
    if (!ok) return false;
  }
  return true;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty()) return std::nullopt;
  uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (magnitude > kMaxPositive + 1) return std::nullopt;
    return magnitude == kMaxPositive + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(magnitude);
  }
  if (magnitude > kMaxPositive) return std::nullopt;
  return static_cast<int64_t>(magnitude);
}

std::optional<double> ParseDouble(std::string_view s) {
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF")
    return std::numeric_limits<double>::infinity();
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -std::numeric_limits<double>::infinity();
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<bool> ParseBool(std::string_view s) {
  for (std::string_view t : {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"})
    if (s == t) return true;
  for (std::string_view f : {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"})
    if (s == f) return false;
  return std::nullopt;
}

std::string Quote(std::string_view s) {
  // Long values (a pasted script) would drown the message; the location already points at them.
  if (s.size() > 60) return fmt::format("'{}...'", s.substr(0, 57));
  return fmt::format("'{}'", s);
}

std::string RangeText(int64_t min, int64_t max) {
  constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  if (min == lo && max == hi) return "an integer";
  if (max == hi) return fmt::format("an integer >= {}", min);
  if (min == lo) return fmt::format("an integer <= {}", max);
  return fmt::format("an integer between {} and {}", min, max);
}

}  // namespace

Result<std::string> SubstituteEnv(std::string_view text) {
  if (text.find('$') == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 == text.size()) {
      out += c;
      ++i;
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (text[i + 1] != '{') {
      out += '$';
      ++i;
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos)
      return Fail("unterminated '${{' in {}; write ${{NAME}} or ${{NAME:-default}} (and $$ for a literal $)",
                  Quote(text));
    std::string_view body = text.substr(i + 2, close - i - 2);
    std::string_view name = body;
    std::optional<std::string_view> fallback;
    if (size_t sep = body.find(":-"); sep != std::string_view::npos) {
      name = body.substr(0, sep);
      fallback = body.substr(sep + 2);
    }
    if (!IsVarName(name))
      return Fail("invalid environment variable name '{}' in '${{{}}}'; expected letters, digits and '_'", name, body);
    const char* value = std::getenv(std::string(name).c_str());
    if (value != nullptr && (*value != '\0' || !fallback)) {
      out += value;
    } else if (fallback) {
      out += *fallback;
    } else {
      return Fail("environment variable {} is not set (set it, or write ${{{}:-default}} to give a default)", name,
                  name);
    }
    i = close + 1;
  }
  return out;
}

Result<int64_t> ParseBytes(std::string_view text) {
  auto bad = [&] {
    return Fail("invalid size {}; expected a number of bytes with an optional unit such as 65536, 64KiB, 4MiB or 1GB",
                Quote(text));
  };
  size_t p = 0;
  while (p < text.size() && (std::isdigit(static_cast<unsigned char>(text[p])) || text[p] == '.')) ++p;
  if (p == 0) return bad();
  std::string_view number = text.substr(0, p);
  size_t u = p;
  while (u < text.size() && text[u] == ' ') ++u;
  std::string unit;
  for (char c : text.substr(u)) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr struct {
    const char* name;
    double factor;
  } kUnits[] = {{"", 1},
                {"b", 1},
                {"kb", 1e3},
                {"mb", 1e6},
                {"gb", 1e9},
                {"tb", 1e12},
                {"kib", 1024.0},
                {"mib", 1024.0 * 1024},
                {"gib", 1024.0 * 1024 * 1024},
                {"tib", 1024.0 * 1024 * 1024 * 1024}};
  const double* factor = nullptr;
  for (const auto& k : kUnits)
    if (unit == k.name) factor = &k.factor;
  if (factor == nullptr || (u > p && unit.empty())) return bad();
  if (number.find('.') == std::string_view::npos) {
    auto n = ParseInt(number);
    if (!n) return bad();
    int64_t f = static_cast<int64_t>(*factor);
    if (*n > std::numeric_limits<int64_t>::max() / f) return Fail("size {} is too large", Quote(text));
    return *n * f;
  }
  auto v = ParseDouble(number);
  if (!v) return bad();
  double bytes = std::round(*v * *factor);
  if (!(bytes < 9.2e18)) return Fail("size {} is too large", Quote(text));
  return static_cast<int64_t>(bytes);
}

// ---------------------------------------------------------------------------------------------
// ConfigNode

YAML::Mark ConfigNode::mark() const {
  if (node_.IsDefined() && !node_.IsNull()) {
    YAML::Mark m = node_.Mark();
    if (!m.is_null()) return m;
  }
  if (!fallback_mark_.is_null()) return fallback_mark_;
  // A null with nothing better (an empty document) still knows where it is.
  return node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark();
}

Location ConfigNode::location() const {
  YAML::Mark m = mark();
  std::string file = file_ ? *file_ : std::string();
  if (m.is_null()) return Location{std::move(file), 0, 0, path_};
  return Location{std::move(file), m.line + 1, m.column + 1, path_};
}

std::string ConfigNode::Describe() const {
  switch (node_.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar:
      return node_.Scalar().empty() ? std::string("an empty string") : Quote(node_.Scalar());
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

ConfigNode ConfigNode::operator[](std::string_view key) const {
  std::string child_path = JoinPath(path_, key);
  if (node_.IsMap()) {
    for (const auto& kv : node_) {
      if (kv.first.IsScalar() && kv.first.Scalar() == key) {
        ConfigNode child(kv.second, file_, std::move(child_path));
        child.fallback_mark_ = kv.first.Mark();
        return child;
      }
    }
  }
  ConfigNode absent(YAML::Node(YAML::NodeType::Undefined), file_, std::move(child_path));
  absent.fallback_mark_ = mark();
  return absent;
}

ConfigNode ConfigNode::operator[](size_t index) const {
  if (node_.IsSequence() && index < node_.size()) {
    ConfigNode child(node_[index], file_, fmt::format("{}[{}]", path_, index));
    child.fallback_mark_ = mark();
    return child;
  }
  ConfigNode absent(YAML::Node(YAML::NodeType::Undefined), file_, fmt::format("{}[{}]", path_, index));
  absent.fallback_mark_ = mark();
  return absent;
}

std::vector<ConfigNode> ConfigNode::items() const {
  std::vector<ConfigNode> out;
  if (!node_.IsSequence()) return out;
  out.reserve(node_.size());
  for (const auto& item : node_) {
    ConfigNode child(item, file_, fmt::format("{}[{}]", path_, out.size()));
    child.fallback_mark_ = mark();
    out.push_back(std::move(child));
  }
  return out;
}

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> out;
  if (!node_.IsMap()) return out;
  for (const auto& kv : node_)
    if (kv.first.IsScalar()) out.push_back(kv.first.Scalar());
  return out;
}

// ---------------------------------------------------------------------------------------------
// ConfigReader

ConfigReader::ConfigReader(ConfigNode node, Diagnostics& diags) : node_(std::move(node)), diags_(&diags) {
  if (node_.defined() && !node_.is_map())
    diags_->Error(node_.location(), fmt::format("expected a map, found {}", node_.Describe()));
}

bool ConfigReader::Has(std::string_view key) const { return node_[key].defined(); }

ConfigNode ConfigReader::Child(std::string_view key) {
  if (read_.find(key) == read_.end()) read_.emplace(key);
  return node_[key];
}

bool ConfigReader::Require(std::string_view key, std::string_view expected) {
  ConfigNode child = Child(key);
  if (child.defined()) return true;
  if (child.yaml().IsDefined())
    diags_->Error(child.location(), fmt::format("expected {}, found nothing", expected));
  else
    diags_->Error(child.location(), fmt::format("missing required key '{}' (expected {})", key, expected));
  return false;
}

std::optional<std::string> ConfigReader::Scalar(std::string_view key, std::string_view expected) {
  ConfigNode child = Child(key);
  if (!child.defined()) return std::nullopt;
  if (!child.is_scalar()) {
    diags_->Error(child.location(), fmt::format("expected {}, found {}", expected, child.Describe()));
    return std::nullopt;
  }
  Result<std::string> text = SubstituteEnv(child.raw());
  if (!text) {
    diags_->Error(child.location(), text.error().message);
    return std::nullopt;
  }
  return std::move(*text);
}

std::string ConfigReader::RequiredString(std::string_view key) {
  if (!Require(key, "a string")) return {};
  ConfigNode child = node_[key];
  std::optional<std::string> text = Scalar(key, "a string");
  if (!text) return {};
  if (text->empty()) diags_->Error(child.location(), "expected a non-empty string");
  return std::move(*text);
}

std::optional<std::string> ConfigReader::OptionalString(std::string_view key) { return Scalar(key, "a string"); }

std::string ConfigReader::String(std::string_view key, std::string_view fallback) {
  std::optional<std::string> text = Scalar(key, "a string");
  return text ? std::move(*text) : std::string(fallback);
}

std::string ConfigReader::Enum(std::string_view key, const std::vector<std::string>& choices,
                               std::string_view fallback) {
  std::string list;
  for (const std::string& c : choices) list += (list.empty() ? "" : ", ") + c;
  std::optional<std::string> text = Scalar(key, fmt::format("one of {}", list));
  if (!text) return std::string(fallback);
  for (const std::string& c : choices)
    if (*text == c) return c;
  std::optional<std::string> near = ClosestMatch(*text, choices);
  Error(key, fmt::format("expected one of {}, found {}{}", list, Quote(*text),
                         near ? fmt::format(" (did you mean '{}'?)", *near) : std::string()));
  return std::string(fallback);
}

int64_t ConfigReader::Int(std::string_view key, int64_t fallback, int64_t min, int64_t max) {
  std::string expected = RangeText(min, max);
  std::optional<std::string> text = Scalar(key, expected);
  if (!text) return fallback;
  std::optional<int64_t> v = ParseInt(*text);
  if (!v || *v < min || *v > max) {
    Error(key, fmt::format("expected {}, found {}", expected, Quote(*text)));
    return fallback;
  }
  return *v;
}

double ConfigReader::Double(std::string_view key, double fallback) {
  std::optional<std::string> text = Scalar(key, "a number");
  if (!text) return fallback;
  std::optional<double> v = ParseDouble(*text);
  if (!v) {
    Error(key, fmt::format("expected a number, found {}", Quote(*text)));
    return fallback;
  }
  return *v;
}

bool ConfigReader::Bool(std::string_view key, bool fallback) {
  std::optional<std::string> text = Scalar(key, "true or false");
  if (!text) return fallback;
  std::optional<bool> v = ParseBool(*text);
  if (!v) {
    Error(key, fmt::format("expected true or false, found {}", Quote(*text)));
    return fallback;
  }
  return *v;
}

weir::Duration ConfigReader::Duration(std::string_view key, weir::Duration fallback) {
  return OptionalDuration(key).value_or(fallback);
}

std::optional<weir::Duration> ConfigReader::OptionalDuration(std::string_view key) {
  std::optional<std::string> text = Scalar(key, "a duration such as 5s");
  if (!text) return std::nullopt;
  Result<weir::Duration> d = ParseDuration(*text);
  if (!d) {
    Error(key, d.error().message);
    return std::nullopt;
  }
  return *d;
}

int64_t ConfigReader::Bytes(std::string_view key, int64_t fallback) {
  std::optional<std::string> text = Scalar(key, "a size such as 64KiB");
  if (!text) return fallback;
  Result<int64_t> n = ParseBytes(*text);
  if (!n) {
    Error(key, n.error().message);
    return fallback;
  }
  return *n;
}

std::vector<std::string> ConfigReader::StringList(std::string_view key) {
  std::vector<std::string> out;
  ConfigNode child = Child(key);
  if (!child.defined()) return out;
  if (child.is_scalar()) {
    if (std::optional<std::string> text = Scalar(key, "a string")) out.push_back(std::move(*text));
    return out;
  }
  if (!child.is_sequence()) {
    diags_->Error(child.location(), fmt::format("expected a string or a list of strings, found {}", child.Describe()));
    return out;
  }
  for (const ConfigNode& item : child.items()) {
    if (!item.is_scalar()) {
      diags_->Error(item.location(), fmt::format("expected a string, found {}", item.Describe()));
      continue;
    }
    Result<std::string> text = SubstituteEnv(item.raw());
    if (!text) {
      diags_->Error(item.location(), text.error().message);
      continue;
    }
    out.push_back(std::move(*text));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ConfigReader::StringMap(std::string_view key) {
  std::vector<std::pair<std::string, std::string>> out;
  ConfigNode child = Child(key);
  if (!child.defined()) return out;
  if (!child.is_map()) {
    diags_->Error(child.location(), fmt::format("expected a map, found {}", child.Describe()));
    return out;
  }
  for (const auto& kv : child.yaml()) {
    if (!kv.first.IsScalar()) continue;  // reported by the loader's document check
    ConfigNode value(kv.second, child.file(), JoinPath(child.path(), kv.first.Scalar()));
    value.fallback_mark_ = kv.first.Mark();
    if (!value.is_scalar() && value.defined()) {
      diags_->Error(value.location(), fmt::format("expected a string, found {}", value.Describe()));
      continue;
    }
    Result<std::string> text = SubstituteEnv(value.raw());
    if (!text) {
      diags_->Error(value.location(), text.error().message);
      continue;
    }
    out.emplace_back(kv.first.Scalar(), std::move(*text));
  }
  return out;
}

void ConfigReader::Error(std::string_view key, std::string message) {
  diags_->Error(node_[key].location(), std::move(message));
}

void ConfigReader::RejectUnknownKeys(const std::vector<std::string>& also_allowed) {
  if (!node_.is_map()) return;
  std::vector<std::string> known(read_.begin(), read_.end());
  known.insert(known.end(), also_allowed.begin(), also_allowed.end());
  for (const auto& kv : node_.yaml()) {
    if (!kv.first.IsScalar()) continue;  // reported by the loader's document check
    std::string key = kv.first.Scalar();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    ConfigNode at(kv.first, node_.file(), JoinPath(node_.path(), key));
    std::string hint;
    if (std::optional<std::string> near = ClosestMatch(key, known)) {
      hint = fmt::format(" (did you mean '{}'?)", *near);
    } else if (!known.empty()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      hint = fmt::format(" (known keys: {})", list);
    }
    diags_->Error(at.location(), fmt::format("unknown key '{}'{}", key, hint));
  }
}

}  // namespace weir::spec
