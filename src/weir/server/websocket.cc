// The server side of a WebSocket connection; see websocket.h for the model.
#include "weir/server/websocket.h"

#include <algorithm>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include "weir/base/log.h"

namespace weir::server::detail {
namespace {

// RFC 6455 allows 123 bytes of reason in a close frame (125 minus the code).
constexpr size_t kMaxCloseReason = 123;
constexpr std::chrono::seconds kHandshakeTimeout(30);
// Message buffers bigger than this are released after use instead of kept for the next one.
constexpr size_t kKeepCapacity = 64 * 1024;

}  // namespace

WebSocketSession::WebSocketSession(std::shared_ptr<Worker> worker, WebSocketOptions options, std::string remote)
    : worker_(std::move(worker)), options_(std::move(options)), remote_(std::move(remote)) {}

WebSocketSession::~WebSocketSession() = default;

// ---- any thread -------------------------------------------------------------------------------

bool WebSocketSession::PostPumpLocked() {
  if (pump_scheduled_) return false;
  pump_scheduled_ = true;
  return true;
}

bool WebSocketSession::Send(std::string text) {
  bool post = false, overflow = false;
  {
    std::lock_guard lock(mu_);
    if (finished_ || close_requested_ || abort_requested_) return false;
    if (queued_bytes_ + text.size() > options_.max_queued_bytes) {
      abort_requested_ = true;
      overflow = true;
    } else {
      queued_bytes_ += text.size();
      queue_.push_back(std::move(text));
      post = PostPumpLocked();
    }
  }
  if (overflow) {
    // Over the limit: the client does not read. Not through the pump, whose write is likely
    // stuck on this very client.
    WEIR_LOG_WARN("WebSocket client {} is too slow (more than {} bytes queued); disconnecting", remote_,
                  options_.max_queued_bytes);
    worker_->Post([self = shared_from_this()] { self->Abort(); });
    return false;
  }
  if (post) worker_->Post([self = shared_from_this()] { self->Pump(); });
  return true;
}

void WebSocketSession::Close(uint16_t code, std::string_view reason) {
  bool post;
  {
    std::lock_guard lock(mu_);
    if (finished_ || close_requested_ || abort_requested_) return;
    close_requested_ = true;
    close_code_ = code;
    close_reason_.assign(reason.substr(0, kMaxCloseReason));
    post = PostPumpLocked();
  }
  if (post) worker_->Post([self = shared_from_this()] { self->Pump(); });
}

void WebSocketSession::OnMessage(std::function<void(std::string_view)> callback) {
  auto shared = std::make_shared<const std::function<void(std::string_view)>>(std::move(callback));
  std::lock_guard lock(mu_);
  if (!finished_) on_message_ = std::move(shared);
}

bool WebSocketSession::closed() const {
  std::lock_guard lock(mu_);
  return finished_ || close_requested_ || abort_requested_;
}

bool WebSocketSession::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

size_t WebSocketSession::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_bytes_;
}

void WebSocketSession::OnClose(std::function<void()> callback) {
  {
    std::lock_guard lock(mu_);
    if (!finished_) {
      on_close_ = std::move(callback);
      return;
    }
  }
  if (callback) callback();
}

bool WebSocketSession::Post(std::function<void()> fn) {
  if (finished()) return false;
  return worker_->Post([self = shared_from_this(), fn = std::move(fn)] {
    if (!self->finished()) fn();
  });
}

void WebSocketSession::Every(std::chrono::milliseconds interval, std::function<void()> fn) {
  if (finished()) return;
  worker_->Post([self = shared_from_this(), interval, fn = std::move(fn)]() mutable {
    self->SetTimer(interval, std::move(fn));
  });
}

void WebSocketSession::WhenDrained(size_t low_water, std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (finished_) return;
    if (queued_bytes_ > low_water) {
      on_drained_ = std::move(fn);
      drain_low_water_ = low_water;
      return;
    }
    on_drained_ = nullptr;
  }
  Post(std::move(fn));
}

// ---- worker thread ----------------------------------------------------------------------------

void WebSocketSession::Begin(tcp::socket socket, http::request<http::empty_body> request) {
  if (state_ != State::kNew) return;
  request_ = std::move(request);
  ws_.emplace(std::move(socket));
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = kHandshakeTimeout;
  // Beast pings after half the idle timeout without hearing from the client, and gives up
  // after the whole of it.
  timeouts.idle_timeout = options_.ping_interval * 2;
  timeouts.keep_alive_pings = true;
  ws_->set_option(timeouts);
  ws_->read_message_max(options_.max_message_bytes);
  state_ = State::kHandshaking;
  ws_->async_accept(request_, [self = shared_from_this()](beast::error_code ec) { self->OnAccepted(ec); });
}

void WebSocketSession::OnAccepted(beast::error_code ec) {
  request_ = {};
  if (state_ == State::kClosed) return;
  if (ec) {
    // Beast has answered the malformed handshake already.
    WEIR_LOG_DEBUG("WebSocket handshake with {} failed: {}", remote_, ec.message());
    Finish();
    return;
  }
  state_ = State::kOpen;
  ws_->text(true);
  if (worker_->draining()) Close(1001, "server shutting down");
  ReadNext();
  Pump();
}

void WebSocketSession::ReadNext() {
  ws_->async_read(read_buffer_, [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
}

void WebSocketSession::OnRead(beast::error_code ec) {
  if (state_ == State::kClosed) return;
  if (ec) {
    // The client closed (Beast answered the close frame), went away, stopped answering pings,
    // or broke the protocol (Beast failed the connection with the right close code).
    WEIR_LOG_DEBUG("WebSocket {} read ended: {}", remote_, ec.message());
    Finish();
    return;
  }
  std::shared_ptr<const std::function<void(std::string_view)>> callback;
  {
    std::lock_guard lock(mu_);
    callback = on_message_;
  }
  auto data = read_buffer_.cdata();
  std::string_view message(static_cast<const char*>(data.data()), data.size());
  if (callback && *callback) {
    try {
      (*callback)(message);
    } catch (const std::exception& e) {
      WEIR_LOG_ERROR("WebSocket message handler for {} threw: {}", remote_, e.what());
    }
  }
  read_buffer_.consume(read_buffer_.size());
  if (read_buffer_.capacity() > kKeepCapacity) read_buffer_.shrink_to_fit();
  if (state_ == State::kOpen || state_ == State::kClosing) ReadNext();
}

void WebSocketSession::Pump() {
  if (state_ != State::kOpen && state_ != State::kClosing) {
    // Not open yet (OnAccepted pumps) or over.
    std::lock_guard lock(mu_);
    pump_scheduled_ = false;
    return;
  }
  if (writing_) return;  // OnWritten pumps again
  std::unique_lock lock(mu_);
  if (abort_requested_) {
    lock.unlock();
    Abort();
    return;
  }
  if (!queue_.empty()) {
    writing_message_ = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    writing_ = true;
    ws_->async_write(asio::buffer(writing_message_),
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWritten(ec); });
    return;
  }
  if (close_requested_ && !close_sent_) {
    close_sent_ = true;
    websocket::close_reason reason(static_cast<websocket::close_code>(close_code_), close_reason_);
    lock.unlock();
    state_ = State::kClosing;
    ws_->async_close(reason, [self = shared_from_this()](beast::error_code) { self->Finish(); });
    return;
  }
  pump_scheduled_ = false;
}

void WebSocketSession::OnWritten(beast::error_code ec) {
  writing_ = false;
  std::function<void()> drained;
  {
    std::lock_guard lock(mu_);
    queued_bytes_ -= std::min(writing_message_.size(), queued_bytes_);
    if (on_drained_ && queued_bytes_ <= drain_low_water_) drained = std::exchange(on_drained_, nullptr);
  }
  if (writing_message_.capacity() > kKeepCapacity) {
    writing_message_ = std::string();
  } else {
    writing_message_.clear();
  }
  if (state_ == State::kClosed) return;
  if (ec) {
    Finish();  // the client is gone
    return;
  }
  if (drained) drained();
  Pump();
}

void WebSocketSession::SetTimer(std::chrono::milliseconds interval, std::function<void()> fn) {
  if (state_ == State::kClosed) return;
  every_ = std::move(fn);
  interval_ = std::max(interval, std::chrono::milliseconds(1));
  ++timer_generation_;
  if (!timer_) timer_.emplace(worker_->io());
  ArmTimer();
}

void WebSocketSession::ArmTimer() {
  timer_->expires_after(interval_);
  timer_->async_wait([self = shared_from_this(), generation = timer_generation_](beast::error_code ec) {
    if (ec || self->state_ == State::kClosed || generation != self->timer_generation_) return;
    if (self->every_) self->every_();
    if (self->state_ != State::kClosed && generation == self->timer_generation_) self->ArmTimer();
  });
}

void WebSocketSession::Drain() { Close(1001, "server shutting down"); }

void WebSocketSession::Abort() { Finish(); }

void WebSocketSession::Discard() {
  state_ = State::kClosed;
  std::lock_guard lock(mu_);
  finished_ = true;
  queue_.clear();
  queued_bytes_ = 0;
  on_message_.reset();
  on_close_ = nullptr;
  on_drained_ = nullptr;
}

void WebSocketSession::Finish() {
  if (state_ == State::kClosed) return;
  std::shared_ptr<WebSocketSession> self = shared_from_this();  // the worker's list may hold the last reference
  state_ = State::kClosed;
  if (timer_) timer_->cancel();
  every_ = nullptr;
  if (ws_) {
    // Aborts the read and any write in flight; their handlers find the session closed.
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).close(ec);
  }
  std::function<void()> on_close;
  {
    std::lock_guard lock(mu_);
    finished_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    on_message_.reset();
    on_drained_ = nullptr;
    on_close = std::exchange(on_close_, nullptr);
  }
  worker_->RemoveWebSocket(this);
  if (on_close) {
    try {
      on_close();
    } catch (const std::exception& e) {
      WEIR_LOG_ERROR("WebSocket close handler for {} threw: {}", remote_, e.what());
    }
  }
}

}  // namespace weir::server::detail
