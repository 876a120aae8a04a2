// Internal to the server module (includes Asio/Beast): IO threads ("workers") and the HTTP
// connections they own.
//
// A Worker is one thread running one io_context; it owns the connections accepted onto it and
// touches them only from that thread, so connection state needs no locks. The only cross-thread
// entry points are Responder calls (Connection::Complete/Abandon/StartStream) and Stream calls,
// which post to the worker through Worker::Post; after Stop, Post refuses and they do nothing.
//
// A connection handles one request at a time, in order, which is what HTTP/1.1 pipelining
// requires: it parses a request, runs its handler inline, waits for the Responder, queues the
// answer, then parses the next request from bytes already buffered before reading again.
//
//   auto worker = std::make_shared<Worker>(core, 0);
//   worker->Adopt(std::move(socket));   // on the worker's thread
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>

#include "weir/server/exchange.h"
#include "weir/server/http_server.h"
#include "weir/server/router.h"

namespace weir::server::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

/// What every connection of a server shares; immutable once the server has started.
struct ServerCore {
  ServerOptions options;
  Router router;
};

/// Parses a request straight into a reused Request, so steady-state parsing does not allocate
/// (Beast's own parser would build a header map per request).
class RequestParser final : public http::basic_parser<true> {
 public:
  explicit RequestParser(Request& request) : request_(request) {}
  bool expect_continue() const { return expect_continue_; }

 private:
  void on_request_impl(http::verb, beast::string_view method, beast::string_view target, int version,
                       beast::error_code&) override;
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(http::field field, beast::string_view name, beast::string_view value, beast::error_code&) override;
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(boost::optional<std::uint64_t> const& content_length, beast::error_code&) override;
  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override;
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override;
  void on_finish_impl(beast::error_code&) override {}

  Request& request_;
  bool expect_continue_ = false;
};

class Connection;
class WebSocketSession;

/// One IO thread with its event loop and the connections it owns.
class Worker : public std::enable_shared_from_this<Worker> {
 public:
  Worker(std::shared_ptr<const ServerCore> core, size_t index);

  asio::io_context& io() { return io_; }
  const ServerCore& core() const { return *core_; }
  bool draining() const { return draining_; }

  /// Runs `fn` on this worker's thread unless the server is stopping; returns whether it will.
  template <class Fn>
  bool Post(Fn&& fn) {
    std::lock_guard lock(post_mu_);
    if (stopped_) return false;
    asio::post(io_, std::forward<Fn>(fn));
    return true;
  }

  /// Starts the thread (and the idle sweep).
  void Start();
  /// From any thread: refuse further Posts. Then CloseAll runs on the thread, and Join waits.
  void MarkStopped();
  void Join();

  // The rest runs on the worker's thread.
  void Adopt(tcp::socket socket);
  void Remove(Connection* connection);
  /// Takes over an upgraded connection's socket and starts the WebSocket handshake.
  void AdoptWebSocket(std::shared_ptr<WebSocketSession> session, tcp::socket socket,
                      http::request<http::empty_body> request);
  void RemoveWebSocket(WebSocketSession* session);
  /// Graceful stop: closes idle connections, ends streams, lets requests in progress finish.
  void BeginDrain();
  /// Closes every connection and lets the event loop run out of work.
  void CloseAll();
  /// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", reformatted at most once a second.
  std::string_view DateLine();

  // Counters: written by this worker's thread only, read by HttpServer::stats().
  std::atomic<uint64_t> requests{0}, accepted{0}, open{0}, bad_requests{0}, handler_failures{0};
  static void Bump(std::atomic<uint64_t>& c, int64_t by = 1) {
    c.store(c.load(std::memory_order_relaxed) + static_cast<uint64_t>(by), std::memory_order_relaxed);
  }

 private:
  void ScheduleSweep();
  void Run();

  std::shared_ptr<const ServerCore> core_;
  size_t index_;
  asio::io_context io_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  asio::steady_timer sweep_;
  Clock::duration sweep_interval_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::vector<std::shared_ptr<WebSocketSession>> websockets_;
  bool closing_ = false;
  bool draining_ = false;
  std::mutex post_mu_;
  bool stopped_ = false;
  std::thread thread_;
  std::string date_line_;
  int64_t date_second_ = -1;
};

class ConnectionStream;

/// One client connection. Lives on its worker's thread; see the file comment.
///
/// Reading and writing are independent: answers are appended to an output buffer that one
/// write at a time drains, so the answers to pipelined requests leave in one write, and the
/// next request is read while the previous answer is still being sent.
class Connection final : public Exchange, public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Worker> worker, tcp::socket socket);
  ~Connection() override;

  Worker& worker() { return *worker_; }
  size_t list_index = 0;  ///< position in the worker's list

  // Worker thread.
  void Start();
  void Close();
  void Drain();
  void Sweep(Clock::time_point now);
  void PumpStream();
  /// Ends a stream at once, dropping what is queued (its client is too slow).
  void AbortStream();
  /// Calls `fn` every `interval` while `stream` is this connection's open stream.
  void SetStreamTimer(const ConnectionStream* stream, std::chrono::milliseconds interval, std::function<void()> fn);

  // Any thread (Exchange).
  void Complete(uint64_t sequence, Response&& response) override;
  void Abandon(uint64_t sequence) override;
  std::shared_ptr<Stream> StartStream(uint64_t sequence, StreamOptions&& options) override;

 private:
  enum class State {
    kReading,    // parsing or reading the next request
    kHandling,   // a handler owns the request until its Responder answers
    kStreaming,  // a streamed answer is open
    kUpgrading,  // a WebSocket was accepted: earlier answers are written, then the socket moves
    kClosing,    // the last answer is being written, then GracefulClose
    kLingering,  // half-closed, discarding input until the client closes
    kClosed,
  };
  // How the handler answered while it was still running on this thread.
  enum class InlineAnswer { kNone, kResponse, kAbandoned, kStream };

  bool OnOwnThreadInHandler() const;
  void NewRequest();
  void ReadLoop();
  void ReadStep();
  void ReadMore();
  void OnRead(beast::error_code ec, size_t n);
  void FailRequest(beast::error_code ec);
  void Dispatch();
  void Invoke(const Handler& handler);
  void SendResponse(Response&& response);
  void Emit();
  void FinishExchange();
  void BeginUpgrade(const WebSocketRoute& route);
  void FinishUpgrade();
  void ArmStreamTimer();
  void Flush();
  void OnWritten(beast::error_code ec);
  void AppendHead(int status, std::string_view content_type, const HeaderList& headers,
                  std::optional<size_t> content_length, bool chunked);
  void BeginStream(std::shared_ptr<ConnectionStream> stream, StreamOptions&& options);
  void EndStreamGracefully();
  void GracefulClose();
  void DiscardRead();

  // Declared first so it is destroyed last: the socket and timers belong to its io_context.
  std::shared_ptr<Worker> worker_;
  const ServerCore& core_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  Request request_;
  std::string remote_;
  State state_ = State::kReading;
  bool keep_alive_ = true;
  bool is_head_ = false;
  bool continue_sent_ = false;
  bool dispatching_ = false;
  bool read_pending_ = false;
  bool in_read_loop_ = false;
  bool read_again_ = false;
  bool resume_after_write_ = false;  // reading paused until the output drains
  bool peer_done_sending_ = false;   // EOF read: answer what is buffered, then close
  Clock::time_point last_activity_;
  Clock::time_point linger_deadline_;

  // Output: answers are serialized into out_; a write sends wbuf_ (swapped from out_) and then
  // big_body_, a large body sent without copying.
  Response response_;
  std::string out_;
  std::string wbuf_;
  std::string big_body_;
  bool writing_ = false;
  std::array<asio::const_buffer, 2> write_buffers_;

  // Request numbers let a late or repeated Responder call find out it is stale: the one open
  // number is swapped to 0 by whoever answers first.
  std::atomic<uint64_t> open_sequence_{0};
  uint64_t last_sequence_ = 0;
  InlineAnswer inline_answer_ = InlineAnswer::kNone;
  std::shared_ptr<ConnectionStream> inline_stream_;
  StreamOptions inline_stream_options_;

  // Streaming.
  std::shared_ptr<ConnectionStream> stream_;
  bool stream_chunked_ = false;
  bool stream_closing_write_ = false;  // the write in flight ends the stream
  size_t stream_inflight_bytes_ = 0;
  std::vector<std::string> stream_out_;
  std::string stream_frames_;
  std::vector<uint32_t> stream_frame_ends_;
  std::vector<asio::const_buffer> stream_buffers_;
  // The stream's Every() schedule; the generation tells a replaced schedule's wait to stop.
  std::optional<asio::steady_timer> stream_timer_;
  std::function<void()> stream_every_;
  std::chrono::milliseconds stream_interval_{0};
  uint64_t stream_timer_generation_ = 0;

  // WebSocket upgrade in progress (kUpgrading).
  std::shared_ptr<WebSocketSession> upgrade_session_;
  http::request<http::empty_body> upgrade_request_;
};

/// The Stream a handler gets from StartStream: a locked queue that the connection drains.
class ConnectionStream final : public Stream, public std::enable_shared_from_this<ConnectionStream> {
 public:
  ConnectionStream(std::weak_ptr<Connection> connection, size_t max_queued_bytes)
      : connection_(std::move(connection)), max_queued_bytes_(max_queued_bytes) {}

  bool Write(std::string chunk) override;
  void Close() override;
  bool closed() const override;
  size_t queued_bytes() const override;
  void OnClose(std::function<void()> callback) override;
  bool Post(std::function<void()> fn) override;
  void Every(std::chrono::milliseconds interval, std::function<void()> fn) override;
  void WhenDrained(size_t low_water, std::function<void()> fn) override;

  // Connection side, on the worker's thread.
  /// Marks the stream started; writes from now on schedule pumps.
  void Activate();
  /// Moves queued chunks into `out` (empty on entry). When there is nothing to do and
  /// `more_work` is false, the pump is descheduled so the next Write posts again.
  void Take(std::vector<std::string>& out, bool more_work, bool& closing, bool& abort);
  /// Returns the WhenDrained callback that became due, for the caller to run.
  std::function<void()> Sent(size_t bytes);
  bool finished() const;
  /// Ends the stream; returns the on-close callback for the caller to run (outside locks).
  std::function<void()> Finish();

 private:
  bool SchedulePumpLocked();
  void PostPump();

  std::weak_ptr<Connection> connection_;
  const size_t max_queued_bytes_;
  mutable std::mutex mu_;
  std::vector<std::string> queue_;
  size_t queued_bytes_ = 0;  // queued plus being written
  bool started_ = false;
  bool pump_scheduled_ = false;
  bool close_requested_ = false;
  bool abort_requested_ = false;
  bool finished_ = false;
  std::function<void()> on_close_;
  std::function<void()> on_drained_;
  size_t drain_low_water_ = 0;
};

}  // namespace weir::server::detail
