// Request, Response and Responder: the plain types handlers work with, and the callback-backed
// Responder used to test handlers without a server.
#include <mutex>

#include <boost/beast/http/status.hpp>

#include "weir/server/exchange.h"
#include "weir/server/http_server.h"

namespace weir::server {
namespace detail {

namespace {

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid (overlong forms,
// surrogates and code points above U+10FFFF are invalid too).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

void AppendJsonEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

std::string_view ReasonPhrase(int status) {
  namespace http = boost::beast::http;
  const http::status code =
      status >= 0 && status <= 999 ? http::int_to_status(static_cast<unsigned>(status)) : http::status::unknown;
  if (code == http::status::unknown) return "";
  const auto reason = http::obsolete_reason(code);
  return {reason.data(), reason.size()};
}

bool IsValidHeader(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    bool token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!token) return false;
  }
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace detail

// ---- Request ----------------------------------------------------------------------------------

std::string_view Request::header(std::string_view name) const {
  for (const HeaderSpan& h : header_spans_) {
    if (detail::EqualsIgnoreCase({header_data_.data() + h.name_offset, h.name_size}, name)) {
      return {header_data_.data() + h.value_offset, h.value_size};
    }
  }
  return {};
}

bool Request::has_header(std::string_view name) const {
  for (const HeaderSpan& h : header_spans_) {
    if (detail::EqualsIgnoreCase({header_data_.data() + h.name_offset, h.name_size}, name)) return true;
  }
  return false;
}

std::optional<std::string_view> Request::param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::path_param(std::string_view name) const {
  for (const auto& [k, v] : path_params) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::pair<std::string_view, std::string_view> Request::header_at(size_t i) const {
  const HeaderSpan& h = header_spans_.at(i);
  return {{header_data_.data() + h.name_offset, h.name_size}, {header_data_.data() + h.value_offset, h.value_size}};
}

void Request::AddHeader(std::string_view name, std::string_view value) {
  HeaderSpan span;
  span.name_offset = static_cast<uint32_t>(header_data_.size());
  span.name_size = static_cast<uint32_t>(name.size());
  header_data_.append(name);
  span.value_offset = static_cast<uint32_t>(header_data_.size());
  span.value_size = static_cast<uint32_t>(value.size());
  header_data_.append(value);
  header_spans_.push_back(span);
}

void Request::Clear() {
  method.clear();
  target.clear();
  path.clear();
  query.clear();
  path_params.clear();
  body.clear();
  remote.clear();
  version = 11;
  header_data_.clear();
  header_spans_.clear();
}

// ---- Response ---------------------------------------------------------------------------------

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::Error(int status, std::string_view message) {
  Response r;
  r.status = status;
  r.body.reserve(40 + message.size());
  r.body = "{\"error\":{\"status\":";
  r.body += std::to_string(status);
  r.body += ",\"message\":\"";
  detail::AppendJsonEscaped(r.body, message);
  r.body += "\"}}";
  return r;
}

Response Response::Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

std::string_view Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (detail::EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

// ---- Responder --------------------------------------------------------------------------------

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    if (exchange_) exchange_->Abandon(sequence_);
    exchange_ = std::move(other.exchange_);
    sequence_ = other.sequence_;
  }
  return *this;
}

Responder::~Responder() {
  if (exchange_) exchange_->Abandon(sequence_);
}

void Responder::operator()(Response response) {
  if (!exchange_) return;
  std::shared_ptr<detail::Exchange> exchange = std::move(exchange_);
  exchange->Complete(sequence_, std::move(response));
}

std::shared_ptr<Stream> Responder::StartStream(StreamOptions options) {
  if (!exchange_) return nullptr;
  std::shared_ptr<detail::Exchange> exchange = std::move(exchange_);
  return exchange->StartStream(sequence_, std::move(options));
}

namespace {

// A stream that keeps everything written and hands it over as one Response when closed.
class MemoryStream final : public Stream {
 public:
  MemoryStream(StreamOptions options, std::function<void(Response)> deliver)
      : options_(std::move(options)), deliver_(std::move(deliver)) {}
  ~MemoryStream() override { Close(); }

  bool Write(std::string chunk) override {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    body_ += chunk;
    return true;
  }

  void Close() override {
    std::function<void()> on_close;
    Response response;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      response.status = options_.status;
      response.content_type = options_.content_type;
      response.headers = std::move(options_.headers);
      response.body = std::move(body_);
      on_close = std::move(on_close_);
    }
    if (deliver_) deliver_(std::move(response));
    if (on_close) on_close();
  }

  bool closed() const override {
    std::lock_guard lock(mu_);
    return closed_;
  }

  size_t queued_bytes() const override { return 0; }

  // There is no IO thread: posted work runs at once, nothing is ever queued, and periodic
  // callbacks (which a test would have to wait for) are not scheduled.
  bool Post(std::function<void()> fn) override {
    if (closed()) return false;
    fn();
    return true;
  }
  void Every(std::chrono::milliseconds, std::function<void()>) override {}
  void WhenDrained(size_t, std::function<void()> fn) override { Post(std::move(fn)); }

  void OnClose(std::function<void()> callback) override {
    {
      std::lock_guard lock(mu_);
      if (!closed_) {
        on_close_ = std::move(callback);
        return;
      }
    }
    if (callback) callback();
  }

 private:
  mutable std::mutex mu_;
  StreamOptions options_;
  std::function<void(Response)> deliver_;
  std::string body_;
  bool closed_ = false;
  std::function<void()> on_close_;
};

class CallbackExchange final : public detail::Exchange {
 public:
  explicit CallbackExchange(std::function<void(Response)> callback) : callback_(std::move(callback)) {}

  void Complete(uint64_t, Response&& response) override {
    if (auto cb = Take()) cb(std::move(response));
  }
  void Abandon(uint64_t) override {
    if (auto cb = Take()) cb(Response::Error(500, "handler finished without responding"));
  }
  std::shared_ptr<Stream> StartStream(uint64_t, StreamOptions&& options) override {
    auto cb = Take();
    if (!cb) return nullptr;
    return std::make_shared<MemoryStream>(std::move(options), std::move(cb));
  }

 private:
  std::function<void(Response)> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(callback_, nullptr);
  }
  std::mutex mu_;
  std::function<void(Response)> callback_;
};

}  // namespace

Responder Responder::ForCallback(std::function<void(Response)> callback) {
  return Responder(std::make_shared<CallbackExchange>(std::move(callback)), 1);
}

}  // namespace weir::server
