// Connections and IO threads of the HTTP server; see connection.h for the model.
#include "weir/server/connection.h"

#include <algorithm>
#include <ctime>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include "weir/base/log.h"
#include "weir/server/static_files.h"
#include "weir/server/url.h"
#include "weir/server/websocket.h"

namespace weir::server::detail {
namespace {

constexpr size_t kReadSize = 16 * 1024;
// Bodies bigger than this do not keep their buffer for the connection's next request.
constexpr size_t kKeepBodyCapacity = 256 * 1024;
constexpr std::chrono::milliseconds kMaxLinger(1000);
// Bodies up to this size are copied next to their headers so that the answers to pipelined
// requests leave in one write; larger ones are written from where they are.
constexpr size_t kCopyBodyBelow = 16 * 1024;
// Answers waiting to be written beyond this pause the parsing of further pipelined requests.
constexpr size_t kMaxPendingOutput = 256 * 1024;

const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
const char kCrlf[] = "\r\n";
const char kLastChunk[] = "0\r\n\r\n";

std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

bool ContainsToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (EqualsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

// ---- RequestParser ----------------------------------------------------------------------------

void RequestParser::on_request_impl(http::verb, beast::string_view method, beast::string_view target, int version,
                                    beast::error_code&) {
  request_.method.assign(method.data(), method.size());
  request_.target.assign(target.data(), target.size());
  request_.version = version;
}

void RequestParser::on_field_impl(http::field field, beast::string_view name, beast::string_view value,
                                  beast::error_code&) {
  request_.AddHeader(View(name), View(value));
  if (field == http::field::expect && EqualsIgnoreCase(View(value), "100-continue")) expect_continue_ = true;
}

void RequestParser::on_body_init_impl(boost::optional<std::uint64_t> const& content_length, beast::error_code&) {
  // The body limit was checked against Content-Length before this is called.
  if (content_length) request_.body.reserve(static_cast<size_t>(*content_length));
}

std::size_t RequestParser::on_body_impl(beast::string_view body, beast::error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

// ---- Worker -----------------------------------------------------------------------------------

Worker::Worker(std::shared_ptr<const ServerCore> core, size_t index)
    : core_(std::move(core)), index_(index), sweep_(io_) {
  guard_.emplace(io_.get_executor());
  // A connection idles at most a quarter of the timeout too long.
  auto quarter = core_->options.idle_timeout / 4;
  sweep_interval_ = std::clamp<Clock::duration>(quarter, std::chrono::milliseconds(10), std::chrono::seconds(1));
}

void Worker::Start() {
  ScheduleSweep();
  thread_ = std::thread([this] { Run(); });
}

void Worker::Run() {
  for (;;) {
    try {
      io_.run();
      return;
    } catch (const std::exception& e) {
      // Handler exceptions are caught where handlers run; anything here is a bug in this
      // module or an allocation failure. Keep serving the other connections.
      WEIR_LOG_ERROR("http server IO thread {}: {}", index_, e.what());
    }
  }
}

void Worker::MarkStopped() {
  {
    std::lock_guard lock(post_mu_);
    stopped_ = true;
  }
  // Posted directly: Post() refuses from now on.
  asio::post(io_, [self = shared_from_this()] { self->CloseAll(); });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::ScheduleSweep() {
  sweep_.expires_after(sweep_interval_);
  sweep_.async_wait([this](beast::error_code ec) {
    if (ec || closing_) return;
    Clock::time_point now = Clock::now();
    for (size_t i = 0; i < connections_.size();) {
      Connection* c = connections_[i].get();
      c->Sweep(now);
      // A closed connection was swapped out of slot i; look at the slot again.
      if (i < connections_.size() && connections_[i].get() == c) ++i;
    }
    ScheduleSweep();
  });
}

void Worker::Adopt(tcp::socket socket) {
  if (closing_ || draining_) {
    beast::error_code ec;
    socket.close(ec);
    return;
  }
  auto c = std::make_shared<Connection>(shared_from_this(), std::move(socket));
  c->list_index = connections_.size();
  connections_.push_back(c);
  Bump(accepted);
  Bump(open);
  c->Start();
}

void Worker::Remove(Connection* connection) {
  size_t i = connection->list_index;
  if (i >= connections_.size() || connections_[i].get() != connection) return;
  if (i + 1 != connections_.size()) {
    std::swap(connections_[i], connections_.back());
    connections_[i]->list_index = i;
  }
  connections_.pop_back();
  Bump(open, -1);
}

void Worker::AdoptWebSocket(std::shared_ptr<WebSocketSession> session, tcp::socket socket,
                            http::request<http::empty_body> request) {
  if (closing_) {
    beast::error_code ec;
    socket.close(ec);
    session->Abort();
    return;
  }
  session->list_index = websockets_.size();
  websockets_.push_back(session);
  Bump(open);
  session->Begin(std::move(socket), std::move(request));
}

void Worker::RemoveWebSocket(WebSocketSession* session) {
  size_t i = session->list_index;
  if (i >= websockets_.size() || websockets_[i].get() != session) return;
  if (i + 1 != websockets_.size()) {
    std::swap(websockets_[i], websockets_.back());
    websockets_[i]->list_index = i;
  }
  websockets_.pop_back();
  Bump(open, -1);
}

void Worker::BeginDrain() {
  draining_ = true;
  for (size_t i = 0; i < connections_.size();) {
    Connection* c = connections_[i].get();
    c->Drain();
    if (i < connections_.size() && connections_[i].get() == c) ++i;
  }
  // Closing handshakes; the sessions leave the list when they complete.
  for (size_t i = 0; i < websockets_.size(); ++i) websockets_[i]->Drain();
}

void Worker::CloseAll() {
  closing_ = true;
  sweep_.cancel();
  while (!connections_.empty()) {
    std::shared_ptr<Connection> c = connections_.back();
    c->Close();
    if (!connections_.empty() && connections_.back() == c) connections_.pop_back();  // defensive
  }
  while (!websockets_.empty()) {
    std::shared_ptr<WebSocketSession> w = websockets_.back();
    w->Abort();
    if (!websockets_.empty() && websockets_.back() == w) websockets_.pop_back();  // defensive
  }
  guard_.reset();  // io_.run() returns once the aborted operations have completed
}

std::string_view Worker::DateLine() {
  std::time_t now = std::time(nullptr);
  if (now != date_second_) {
    date_second_ = now;
    std::tm tm;
    gmtime_r(&now, &tm);
    char buf[64];
    size_t n = std::strftime(buf, sizeof buf, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    date_line_.assign(buf, n);
  }
  return date_line_;
}

// ---- Connection: reading and dispatching ------------------------------------------------------

Connection::Connection(std::shared_ptr<Worker> worker, tcp::socket socket)
    : worker_(std::move(worker)),
      core_(worker_->core()),
      socket_(std::move(socket)),
      buffer_(core_.options.max_header_bytes + 2 * kReadSize) {}

Connection::~Connection() = default;

void Connection::Start() {
  beast::error_code ec;
  tcp::endpoint peer = socket_.remote_endpoint(ec);
  if (!ec) {
    remote_ = peer.address().is_v6() ? fmt::format("[{}]:{}", peer.address().to_string(), peer.port())
                                     : fmt::format("{}:{}", peer.address().to_string(), peer.port());
  }
  // Small answers go out at once instead of waiting for Nagle's algorithm.
  socket_.set_option(tcp::no_delay(true), ec);
  last_activity_ = Clock::now();
  NewRequest();
  ReadLoop();
}

void Connection::NewRequest() {
  std::string body = std::move(request_.body);
  request_.Clear();
  request_.remote.assign(remote_);
  if (body.capacity() <= kKeepBodyCapacity) {
    body.clear();
    request_.body = std::move(body);
  }
  parser_.emplace(request_);
  parser_->header_limit(static_cast<std::uint32_t>(core_.options.max_header_bytes));
  parser_->body_limit(static_cast<std::uint64_t>(core_.options.max_body_bytes));
  parser_->eager(true);
  is_head_ = false;
  continue_sent_ = false;
  keep_alive_ = true;
  state_ = State::kReading;
  last_activity_ = Clock::now();  // the idle timeout for the next request starts now
}

void Connection::ReadLoop() {
  // Handlers that answer inline come back here through FinishExchange; loop instead of
  // recursing once per pipelined request.
  if (in_read_loop_) {
    read_again_ = true;
    return;
  }
  in_read_loop_ = true;
  do {
    read_again_ = false;
    if (state_ == State::kReading) ReadStep();
  } while (read_again_);
  in_read_loop_ = false;
}

void Connection::ReadStep() {
  if (out_.size() >= kMaxPendingOutput) {
    // The client sends faster than it reads answers: stop parsing until they are written.
    resume_after_write_ = true;
    Flush();
    return;
  }
  // Parse what is buffered first: pipelined requests need no read at all.
  while (buffer_.size() > 0) {
    beast::error_code ec;
    size_t n = parser_->put(asio::const_buffer(buffer_.data()), ec);
    buffer_.consume(n);
    if (ec == http::error::need_more) break;
    if (ec) {
      FailRequest(ec);
      return;
    }
    if (parser_->is_done()) {
      Dispatch();
      return;
    }
    if (n == 0) break;
  }
  if (parser_->is_header_done() && parser_->expect_continue() && !continue_sent_ && request_.version >= 11) {
    // The client waits for this before sending the body (curl does for large uploads).
    continue_sent_ = true;
    out_ += kContinue;
  }
  // Out of input: send the answers ready so far while waiting for more.
  Flush();
  ReadMore();
}

void Connection::ReadMore() {
  if (read_pending_) return;
  if (peer_done_sending_) {
    // Everything the client sent has been answered (or cannot be completed): finish writing.
    state_ = State::kClosing;
    Flush();
    if (!writing_) GracefulClose();
    return;
  }
  size_t room = buffer_.max_size() - buffer_.size();
  if (room == 0) {
    FailRequest(http::error::header_limit);
    return;
  }
  read_pending_ = true;
  socket_.async_read_some(buffer_.prepare(std::min(kReadSize, room)),
                          [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnRead(ec, n); });
}

void Connection::OnRead(beast::error_code ec, size_t n) {
  read_pending_ = false;
  if (state_ == State::kClosed) return;
  if (ec) {
    if (ec == asio::error::eof && (buffer_.size() > 0 || writing_ || !out_.empty())) {
      // The client half-closed after sending (as `nc` does): answer what it sent first.
      peer_done_sending_ = true;
      ReadLoop();
      return;
    }
    // EOF between requests is the normal end of a keep-alive connection; EOF inside a request
    // leaves nobody to answer.
    Close();
    return;
  }
  buffer_.commit(n);
  last_activity_ = Clock::now();
  ReadLoop();
}

void Connection::FailRequest(beast::error_code ec) {
  Worker::Bump(worker_->bad_requests);
  const ServerOptions& o = core_.options;
  if (ec == http::error::body_limit) {
    response_ = Response::Error(
        413, fmt::format("request body exceeds the limit of {} bytes (max_body_bytes)", o.max_body_bytes));
  } else if (ec == http::error::header_limit) {
    response_ = Response::Error(
        431, fmt::format("request header exceeds the limit of {} bytes (max_header_bytes)", o.max_header_bytes));
  } else {
    response_ = Response::Error(400, fmt::format("malformed HTTP request: {}", ec.message()));
  }
  // The rest of the input cannot be framed any more.
  keep_alive_ = false;
  is_head_ = false;
  state_ = State::kHandling;
  Emit();
}

void Connection::Dispatch() {
  state_ = State::kHandling;
  Worker::Bump(worker_->requests);
  keep_alive_ = parser_->keep_alive();
  is_head_ = request_.method == "HEAD";

  TargetParts parts;
  if (!SplitTarget(request_.target, parts)) {
    Worker::Bump(worker_->bad_requests);
    SendResponse(Response::Error(400, fmt::format("malformed request target '{}'", request_.target)));
    return;
  }
  PercentDecodeTo(parts.path, false, request_.path);
  ParseQuery(parts.query, request_.query);

  RouteMatch match;
  core_.router.Match(request_, parts.path, match);
  switch (match.kind) {
    case RouteMatch::Kind::kHandler:
      if (match.websocket && request_.method == "GET" && ContainsToken(request_.header("Upgrade"), "websocket")) {
        BeginUpgrade(*match.websocket);
        return;
      }
      Invoke(*match.handler);
      return;
    case RouteMatch::Kind::kStatic:
      SendResponse(ServeStaticFile(*match.mount, request_, parts.path, match.static_path));
      return;
    case RouteMatch::Kind::kMethodNotAllowed: {
      Response r = Response::Error(405, fmt::format("method {} is not allowed for {}; allowed: {}", request_.method,
                                                    request_.path, match.allow));
      r.headers.emplace_back("Allow", std::move(match.allow));
      SendResponse(std::move(r));
      return;
    }
    case RouteMatch::Kind::kNotFound:
      SendResponse(Response::Error(404, fmt::format("no route for {} {}", request_.method, request_.path)));
      return;
  }
}

void Connection::Invoke(const Handler& handler) {
  uint64_t sequence = ++last_sequence_;
  open_sequence_.store(sequence, std::memory_order_release);
  inline_answer_ = InlineAnswer::kNone;
  dispatching_ = true;
  std::string failure;
  bool threw = false;
  try {
    handler(request_, Responder(shared_from_this(), sequence));
  } catch (const std::exception& e) {
    threw = true;
    failure = e.what();
  } catch (...) {
    threw = true;
    failure = "unknown exception";
  }
  dispatching_ = false;

  if (threw) {
    WEIR_LOG_ERROR("http handler for {} {} threw: {}", request_.method, request_.path, failure);
    uint64_t expected = sequence;
    bool unanswered = open_sequence_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
    if (unanswered || inline_answer_ == InlineAnswer::kAbandoned) {
      Worker::Bump(worker_->handler_failures);
      inline_answer_ = InlineAnswer::kNone;
      response_ = Response::Error(500, fmt::format("internal error: {}", failure));
      Emit();
      return;
    }
    // Answered before throwing: send that answer.
  }
  InlineAnswer answer = std::exchange(inline_answer_, InlineAnswer::kNone);
  switch (answer) {
    case InlineAnswer::kResponse:
      Emit();
      return;
    case InlineAnswer::kAbandoned:
      Worker::Bump(worker_->handler_failures);
      response_ = Response::Error(500, "handler finished without responding");
      Emit();
      return;
    case InlineAnswer::kStream:
      BeginStream(std::move(inline_stream_), std::move(inline_stream_options_));
      return;
    case InlineAnswer::kNone:
      // Answered later from elsewhere; meanwhile send the answers to earlier pipelined requests.
      Flush();
      return;
  }
}

// ---- Connection: answers from any thread ------------------------------------------------------

bool Connection::OnOwnThreadInHandler() const {
  // dispatching_ is only read on the worker's own thread, where it is written.
  return worker_->io().get_executor().running_in_this_thread() && dispatching_;
}

void Connection::Complete(uint64_t sequence, Response&& response) {
  uint64_t expected = sequence;
  if (!open_sequence_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) return;
  if (OnOwnThreadInHandler()) {
    response_ = std::move(response);
    inline_answer_ = InlineAnswer::kResponse;
    return;
  }
  worker_->Post([self = shared_from_this(), r = std::move(response)]() mutable { self->SendResponse(std::move(r)); });
}

void Connection::Abandon(uint64_t sequence) {
  uint64_t expected = sequence;
  if (!open_sequence_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) return;
  if (OnOwnThreadInHandler()) {
    inline_answer_ = InlineAnswer::kAbandoned;
    return;
  }
  worker_->Post([self = shared_from_this()] {
    if (self->state_ != State::kHandling) return;
    Worker::Bump(self->worker_->handler_failures);
    WEIR_LOG_WARN("http handler for {} {} dropped its Responder", self->request_.method, self->request_.path);
    self->SendResponse(Response::Error(500, "handler finished without responding"));
  });
}

std::shared_ptr<Stream> Connection::StartStream(uint64_t sequence, StreamOptions&& options) {
  uint64_t expected = sequence;
  if (!open_sequence_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) return nullptr;
  auto stream = std::make_shared<ConnectionStream>(weak_from_this(), options.max_queued_bytes);
  if (OnOwnThreadInHandler()) {
    inline_answer_ = InlineAnswer::kStream;
    inline_stream_ = stream;
    inline_stream_options_ = std::move(options);
    return stream;
  }
  bool posted = worker_->Post([self = shared_from_this(), stream, o = std::move(options)]() mutable {
    self->BeginStream(std::move(stream), std::move(o));
  });
  if (!posted) {
    if (auto on_close = stream->Finish()) on_close();
  }
  return stream;
}

// ---- Connection: writing ----------------------------------------------------------------------

void Connection::SendResponse(Response&& response) {
  if (state_ != State::kHandling) return;  // closed meanwhile
  response_ = std::move(response);
  Emit();
}

void Connection::AppendHead(int status, std::string_view content_type, const HeaderList& headers,
                            std::optional<size_t> content_length, bool chunked) {
  auto out = std::back_inserter(out_);
  fmt::format_to(out, "HTTP/1.1 {} {}\r\n", status, ReasonPhrase(status));
  out_ += worker_->DateLine();
  bool has_content_type = false;
  for (const auto& [name, value] : headers) {
    if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding") ||
        EqualsIgnoreCase(name, "Connection") || EqualsIgnoreCase(name, "Date")) {
      continue;  // framing belongs to the server
    }
    if (!IsValidHeader(name, value)) {
      WEIR_LOG_WARN("http handler for {} {} set invalid header '{}'; dropped", request_.method, request_.path, name);
      continue;
    }
    if (EqualsIgnoreCase(name, "Content-Type")) has_content_type = true;
    out_ += name;
    out_ += ": ";
    out_ += value;
    out_ += "\r\n";
  }
  if (!content_type.empty() && !has_content_type && IsValidHeader("Content-Type", content_type)) {
    out_ += "Content-Type: ";
    out_ += content_type;
    out_ += "\r\n";
  }
  if (content_length) fmt::format_to(out, "Content-Length: {}\r\n", *content_length);
  if (chunked) out_ += "Transfer-Encoding: chunked\r\n";
  if (!keep_alive_) {
    out_ += "Connection: close\r\n";
  } else if (request_.version == 10) {
    out_ += "Connection: keep-alive\r\n";
  }
  out_ += "\r\n";
}

void Connection::Emit() {
  if (worker_->draining()) keep_alive_ = false;
  for (const auto& [name, value] : response_.headers) {
    if (EqualsIgnoreCase(name, "Connection") && ContainsToken(value, "close")) keep_alive_ = false;
  }
  bool no_body = StatusHasNoBody(response_.status);
  std::optional<size_t> length;
  if (!no_body) length = response_.body.size();
  AppendHead(response_.status, no_body ? std::string_view() : response_.content_type, response_.headers, length, false);
  if (!no_body && !is_head_ && !response_.body.empty()) {
    if (response_.body.size() > kCopyBodyBelow && !writing_) {
      big_body_ = std::move(response_.body);  // written right after out_, without a copy
      Flush();
    } else {
      out_ += response_.body;
    }
  }
  if (response_.body.capacity() > kKeepBodyCapacity) {
    response_.body = std::string();
  } else {
    response_.body.clear();
  }
  response_.headers.clear();
  FinishExchange();
}

void Connection::FinishExchange() {
  if (!keep_alive_) {
    state_ = State::kClosing;
    Flush();
    if (!writing_) GracefulClose();
    return;
  }
  NewRequest();
  ReadLoop();
}

void Connection::Flush() {
  if (writing_ || (out_.empty() && big_body_.empty())) return;
  wbuf_.swap(out_);
  write_buffers_[0] = asio::buffer(wbuf_);
  write_buffers_[1] = asio::buffer(big_body_);
  writing_ = true;
  last_activity_ = Clock::now();  // the client has idle_timeout to take it
  asio::async_write(socket_, write_buffers_,
                    [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWritten(ec); });
}

void Connection::OnWritten(beast::error_code ec) {
  writing_ = false;
  if (wbuf_.capacity() > kKeepBodyCapacity) {
    wbuf_ = std::string();
  } else {
    wbuf_.clear();
  }
  big_body_ = std::string();
  if (state_ == State::kClosed) return;
  if (ec) {
    Close();  // the client is gone
    return;
  }
  last_activity_ = Clock::now();
  switch (state_) {
    case State::kStreaming: {
      std::function<void()> drained = stream_->Sent(stream_inflight_bytes_);
      stream_inflight_bytes_ = 0;
      stream_out_.clear();
      if (stream_closing_write_) {
        EndStreamGracefully();
        return;
      }
      // The producer writes more now; the pump below picks it up.
      if (drained) drained();
      PumpStream();
      return;
    }
    case State::kClosing:
      Flush();
      if (!writing_) GracefulClose();
      return;
    case State::kUpgrading:
      Flush();
      if (!writing_) FinishUpgrade();
      return;
    case State::kReading:
      Flush();
      if (worker_->draining() && !writing_ && !parser_->got_some() && buffer_.size() == 0) {
        Close();  // the last answer is out and no request has started
        return;
      }
      if (resume_after_write_) {
        resume_after_write_ = false;
        ReadLoop();
      }
      return;
    default:
      Flush();  // answers queued while a handler works
      return;
  }
}

// ---- Connection: streams ----------------------------------------------------------------------

void Connection::BeginStream(std::shared_ptr<ConnectionStream> stream, StreamOptions&& options) {
  if (state_ != State::kHandling) {
    if (auto on_close = stream->Finish()) on_close();
    return;
  }
  HeaderList& headers = options.headers;
  if (options.content_type.starts_with("text/event-stream")) {
    bool has_cache_control = false;
    for (const auto& [name, value] : headers) has_cache_control |= EqualsIgnoreCase(name, "Cache-Control");
    if (!has_cache_control) headers.emplace_back("Cache-Control", "no-cache");
    headers.emplace_back("X-Accel-Buffering", "no");  // tell nginx-style proxies not to buffer
  }
  bool chunked = request_.version >= 11;
  if (worker_->draining()) keep_alive_ = false;

  if (is_head_) {
    // Headers as a GET would get them, no body; the connection stays usable.
    if (auto on_close = stream->Finish()) on_close();
    AppendHead(options.status, options.content_type, headers, std::nullopt, chunked);
    FinishExchange();
    return;
  }

  // The connection ends with the stream: a client would otherwise have to pipeline behind a
  // body of unknown length.
  keep_alive_ = false;
  AppendHead(options.status, options.content_type, headers, std::nullopt, chunked);
  state_ = State::kStreaming;
  stream_ = std::move(stream);
  stream_chunked_ = chunked;
  stream_->Activate();
  PumpStream();
  // Reading tells us when the client goes away; it sends nothing we need.
  DiscardRead();
}

void Connection::PumpStream() {
  if (state_ != State::kStreaming || writing_) return;
  bool closing = false, abort = false;
  stream_out_.clear();
  stream_->Take(stream_out_, !out_.empty(), closing, abort);
  if (abort) {
    Close();
    return;
  }
  if (stream_out_.empty() && !closing && out_.empty()) return;

  stream_buffers_.clear();
  stream_frames_.clear();
  stream_frame_ends_.clear();
  stream_inflight_bytes_ = 0;
  if (stream_chunked_) {
    // Frame headers first, into one string, so buffers can point into it afterwards.
    for (const std::string& chunk : stream_out_) {
      fmt::format_to(std::back_inserter(stream_frames_), "{:x}\r\n", chunk.size());
      stream_frame_ends_.push_back(static_cast<uint32_t>(stream_frames_.size()));
    }
  }
  wbuf_.swap(out_);  // the stream's head, and answers to requests before it
  if (!wbuf_.empty()) stream_buffers_.push_back(asio::buffer(wbuf_));
  size_t frame_start = 0;
  for (size_t i = 0; i < stream_out_.size(); ++i) {
    const std::string& chunk = stream_out_[i];
    stream_inflight_bytes_ += chunk.size();
    if (stream_chunked_) {
      stream_buffers_.push_back(asio::buffer(stream_frames_.data() + frame_start, stream_frame_ends_[i] - frame_start));
      frame_start = stream_frame_ends_[i];
    }
    stream_buffers_.push_back(asio::buffer(chunk));
    if (stream_chunked_) stream_buffers_.push_back(asio::buffer(kCrlf, 2));
  }
  if (closing && stream_chunked_) stream_buffers_.push_back(asio::buffer(kLastChunk, sizeof kLastChunk - 1));

  writing_ = true;
  last_activity_ = Clock::now();
  stream_closing_write_ = closing;
  asio::async_write(socket_, stream_buffers_,
                    [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWritten(ec); });
}

void Connection::AbortStream() {
  if (state_ == State::kStreaming) Close();
}

void Connection::EndStreamGracefully() {
  std::shared_ptr<ConnectionStream> stream = std::move(stream_);
  if (stream_timer_) stream_timer_->cancel();
  stream_every_ = nullptr;
  std::function<void()> on_close = stream->Finish();
  GracefulClose();
  if (on_close) on_close();
}

void Connection::SetStreamTimer(const ConnectionStream* stream, std::chrono::milliseconds interval,
                                std::function<void()> fn) {
  if (state_ != State::kStreaming || stream_.get() != stream) return;
  stream_every_ = std::move(fn);
  stream_interval_ = std::max(interval, std::chrono::milliseconds(1));
  ++stream_timer_generation_;
  if (!stream_timer_) stream_timer_.emplace(worker_->io());
  ArmStreamTimer();
}

void Connection::ArmStreamTimer() {
  stream_timer_->expires_after(stream_interval_);
  stream_timer_->async_wait([self = shared_from_this(), generation = stream_timer_generation_](beast::error_code ec) {
    if (ec || self->state_ != State::kStreaming || generation != self->stream_timer_generation_) return;
    if (self->stream_every_) self->stream_every_();
    // The callback may have ended the stream or replaced the schedule.
    if (self->state_ == State::kStreaming && generation == self->stream_timer_generation_) self->ArmStreamTimer();
  });
}

// ---- Connection: WebSocket upgrade ------------------------------------------------------------

void Connection::BeginUpgrade(const WebSocketRoute& route) {
  // What Beast would refuse anyway is refused here, before the application sees the request.
  std::string_view problem;
  if (request_.version < 11) {
    problem = "a WebSocket upgrade needs HTTP/1.1";
  } else if (!ContainsToken(request_.header("Connection"), "upgrade")) {
    problem = "a WebSocket upgrade needs the header 'Connection: Upgrade'";
  } else if (request_.header("Sec-WebSocket-Key").empty()) {
    problem = "a WebSocket upgrade needs a Sec-WebSocket-Key header";
  } else if (buffer_.size() > 0) {
    problem = "data arrived before the WebSocket handshake completed";
  }
  if (!problem.empty()) {
    Worker::Bump(worker_->bad_requests);
    keep_alive_ = false;
    SendResponse(Response::Error(400, problem));
    return;
  }
  if (request_.header("Sec-WebSocket-Version") != "13") {
    Worker::Bump(worker_->bad_requests);
    Response r = Response::Error(426, "unsupported WebSocket version; this server speaks version 13");
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    keep_alive_ = false;
    SendResponse(std::move(r));
    return;
  }
  if (worker_->draining()) {
    keep_alive_ = false;
    SendResponse(Response::Error(503, "the server is shutting down"));
    return;
  }

  auto session = std::make_shared<WebSocketSession>(worker_, route.options, remote_);
  std::optional<Response> refusal;
  try {
    refusal = route.handler(request_, session);
  } catch (const std::exception& e) {
    WEIR_LOG_ERROR("WebSocket handler for {} threw: {}", request_.path, e.what());
    Worker::Bump(worker_->handler_failures);
    refusal = Response::Error(500, fmt::format("internal error: {}", e.what()));
  } catch (...) {
    Worker::Bump(worker_->handler_failures);
    refusal = Response::Error(500, "internal error: unknown exception");
  }
  if (refusal) {
    session->Discard();
    SendResponse(std::move(*refusal));
    return;
  }

  // Beast performs the handshake from a request message of its own.
  upgrade_request_ = {};
  upgrade_request_.method_string(request_.method);
  upgrade_request_.target(request_.target);
  upgrade_request_.version(request_.version);
  for (size_t i = 0; i < request_.header_count(); ++i) {
    auto [name, value] = request_.header_at(i);
    upgrade_request_.insert(beast::string_view(name.data(), name.size()), beast::string_view(value.data(), value.size()));
  }
  upgrade_session_ = std::move(session);
  state_ = State::kUpgrading;
  // Answers to requests pipelined before this one leave first.
  Flush();
  if (!writing_) FinishUpgrade();
}

void Connection::FinishUpgrade() {
  std::shared_ptr<Connection> self = shared_from_this();  // the worker's list may hold the last reference
  std::shared_ptr<WebSocketSession> session = std::move(upgrade_session_);
  state_ = State::kClosed;  // the socket is the session's from now on
  open_sequence_.store(0, std::memory_order_release);
  worker_->Remove(this);
  worker_->AdoptWebSocket(std::move(session), std::move(socket_), std::move(upgrade_request_));
}

// ---- Connection: closing ----------------------------------------------------------------------

void Connection::GracefulClose() {
  if (state_ == State::kClosed || state_ == State::kLingering) return;
  // Half-close and read until the client closes too: closing with unread input would reset
  // the connection and could destroy the answer (a 413, say) before the client reads it.
  state_ = State::kLingering;
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  linger_deadline_ = Clock::now() + std::min<Clock::duration>(kMaxLinger, core_.options.idle_timeout);
  DiscardRead();
}

void Connection::DiscardRead() {
  if (read_pending_) return;
  read_pending_ = true;
  buffer_.clear();
  socket_.async_read_some(buffer_.prepare(kReadSize), [self = shared_from_this()](beast::error_code ec, size_t) {
    self->read_pending_ = false;
    self->buffer_.clear();
    if (self->state_ == State::kClosed) return;
    if (ec) {
      self->Close();  // for a stream: the client went away
      return;
    }
    self->DiscardRead();
  });
}

void Connection::Close() {
  if (state_ == State::kClosed) return;
  std::shared_ptr<Connection> self = shared_from_this();  // the worker's list may hold the last reference
  state_ = State::kClosed;
  // Whoever still holds a Responder for this connection now finds it stale.
  open_sequence_.store(0, std::memory_order_release);
  std::function<void()> on_close;
  if (stream_) {
    on_close = stream_->Finish();
    stream_.reset();
  }
  if (stream_timer_) stream_timer_->cancel();
  stream_every_ = nullptr;
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  worker_->Remove(this);
  if (on_close) on_close();
  // An accepted WebSocket whose handshake never started still owes its OnClose.
  if (std::shared_ptr<WebSocketSession> session = std::move(upgrade_session_)) session->Abort();
}

void Connection::Drain() {
  switch (state_) {
    case State::kReading:
      // Idle between requests: nothing to finish. With an answer still being written,
      // OnWritten closes once it is out.
      if (!writing_ && !parser_->got_some() && buffer_.size() == 0) Close();
      return;
    case State::kStreaming:
      if (stream_) stream_->Close();
      return;
    default:
      return;  // Emit closes after the answer
  }
}

void Connection::Sweep(Clock::time_point now) {
  switch (state_) {
    case State::kReading:
    case State::kClosing:
      if (now - last_activity_ > core_.options.idle_timeout) Close();
      return;
    case State::kLingering:
      if (now > linger_deadline_) Close();
      return;
    case State::kStreaming:
      // A quiet stream may stay open for ever, but not one whose client stopped reading.
      if (writing_ && now - last_activity_ > core_.options.idle_timeout) Close();
      return;
    default:
      return;  // a handler owns the pace
  }
}

// ---- ConnectionStream -------------------------------------------------------------------------

bool ConnectionStream::Write(std::string chunk) {
  bool post = false;
  bool accepted = true;
  {
    std::lock_guard lock(mu_);
    if (finished_ || close_requested_ || abort_requested_) return false;
    if (chunk.empty()) return true;  // an empty chunk would end a chunked body
    if (queued_bytes_ + chunk.size() > max_queued_bytes_) {
      abort_requested_ = true;
      accepted = false;
    } else {
      queued_bytes_ += chunk.size();
      queue_.push_back(std::move(chunk));
      post = SchedulePumpLocked();
    }
  }
  if (!accepted) {
    // Not through the pump: its write is likely stuck on this very client.
    if (std::shared_ptr<Connection> c = connection_.lock()) {
      c->worker().Post([c] { c->AbortStream(); });
    }
    return false;
  }
  if (post) PostPump();
  return true;
}

void ConnectionStream::Close() {
  bool post;
  {
    std::lock_guard lock(mu_);
    if (finished_ || close_requested_ || abort_requested_) return;
    close_requested_ = true;
    post = SchedulePumpLocked();
  }
  if (post) PostPump();
}

bool ConnectionStream::closed() const {
  std::lock_guard lock(mu_);
  return finished_ || close_requested_ || abort_requested_;
}

size_t ConnectionStream::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_bytes_;
}

void ConnectionStream::OnClose(std::function<void()> callback) {
  {
    std::lock_guard lock(mu_);
    if (!finished_) {
      on_close_ = std::move(callback);
      return;
    }
  }
  if (callback) callback();
}

bool ConnectionStream::Post(std::function<void()> fn) {
  std::shared_ptr<Connection> c = connection_.lock();
  if (!c || finished()) return false;
  return c->worker().Post([self = shared_from_this(), fn = std::move(fn)] {
    if (!self->finished()) fn();
  });
}

void ConnectionStream::Every(std::chrono::milliseconds interval, std::function<void()> fn) {
  std::shared_ptr<Connection> c = connection_.lock();
  if (!c || finished()) return;
  c->worker().Post([c, self = shared_from_this(), interval, fn = std::move(fn)]() mutable {
    c->SetStreamTimer(self.get(), interval, std::move(fn));
  });
}

void ConnectionStream::WhenDrained(size_t low_water, std::function<void()> fn) {
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

bool ConnectionStream::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

void ConnectionStream::Activate() {
  std::lock_guard lock(mu_);
  started_ = true;
  pump_scheduled_ = true;  // the connection pumps right after
}

void ConnectionStream::Take(std::vector<std::string>& out, bool more_work, bool& closing, bool& abort) {
  std::lock_guard lock(mu_);
  out.swap(queue_);
  closing = close_requested_;
  abort = abort_requested_;
  if (out.empty() && !closing && !abort && !more_work) pump_scheduled_ = false;
}

std::function<void()> ConnectionStream::Sent(size_t bytes) {
  std::lock_guard lock(mu_);
  queued_bytes_ -= std::min(bytes, queued_bytes_);
  if (on_drained_ && queued_bytes_ <= drain_low_water_) return std::exchange(on_drained_, nullptr);
  return nullptr;
}

std::function<void()> ConnectionStream::Finish() {
  std::lock_guard lock(mu_);
  finished_ = true;
  queue_.clear();
  queued_bytes_ = 0;
  on_drained_ = nullptr;
  return std::exchange(on_close_, nullptr);
}

bool ConnectionStream::SchedulePumpLocked() {
  // One post per burst of writes: while a pump is scheduled or a write is in flight, the
  // connection picks up new chunks by itself.
  if (!started_ || pump_scheduled_ || finished_) return false;
  pump_scheduled_ = true;
  return true;
}

void ConnectionStream::PostPump() {
  if (std::shared_ptr<Connection> c = connection_.lock()) {
    c->worker().Post([c] { c->PumpStream(); });
  }
}

}  // namespace weir::server::detail
