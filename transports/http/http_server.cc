// The HTTP server: Poco's TCPServer accepts and hands connections to a pool
// of threads; each connection runs our own request loop over Poco's HTTP
// message parser, so that every answer — including those to malformed
// requests and oversized bodies — is a protocol JSON body, and so that the
// body limit is enforced while reading.
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/ThreadPool.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "http_util.h"
#include "syncstack/codec.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/protocol.h"

namespace syncstack {

HttpServer::~HttpServer() = default;

namespace {

using Clock = std::chrono::steady_clock;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequestImpl;
using Poco::Net::HTTPServerResponseImpl;

Poco::Timespan ToTimespan(std::chrono::milliseconds ms) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) *
                        1000);
}

// What every connection of one server shares. Owned jointly by the server
// and its connections, so that a connection finishing late never touches
// freed memory.
struct ServerState {
  ServerState(Handler& h, const HttpServerOptions& o)
      : handler(h), options(o) {}

  Handler& handler;
  const HttpServerOptions options;
  Poco::Net::HTTPServerParams::Ptr params;
  std::atomic<bool> stopping{false};
  std::atomic<Poco::Net::TCPServer*> tcp{nullptr};

  // Live connections, so Stop() and the request deadline can close them.
  struct Live {
    Poco::Net::StreamSocket socket;
    Clock::time_point deadline = Clock::time_point::max();
  };
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, Live> live;
  uint64_t next_id = 0;

  uint64_t Register(const Poco::Net::StreamSocket& socket) {
    std::lock_guard lock(mu);
    live.emplace(next_id, Live{socket});
    return next_id++;
  }
  void Unregister(uint64_t id) {
    std::lock_guard lock(mu);
    live.erase(id);
    cv.notify_all();
  }
  void SetDeadline(uint64_t id, Clock::time_point deadline) {
    std::lock_guard lock(mu);
    auto it = live.find(id);
    if (it != live.end()) it->second.deadline = deadline;
  }
  // Whether accepted connections wait for a thread.
  bool Crowded() const {
    Poco::Net::TCPServer* server = tcp.load();
    return server != nullptr && server->queuedConnections() > 0;
  }
};

void ShutdownQuietly(Poco::Net::StreamSocket& socket) {
  try {
    socket.shutdown();
  } catch (...) {
  }
}

// Exposes the bytes already read ahead (a pipelined next request).
class Session final : public Poco::Net::HTTPServerSession {
 public:
  using HTTPServerSession::buffered;
  using HTTPServerSession::get;
  using HTTPServerSession::HTTPServerSession;
  using HTTPServerSession::read;
};

class Connection final : public Poco::Net::TCPServerConnection {
 public:
  Connection(const Poco::Net::StreamSocket& socket,
             std::shared_ptr<ServerState> state)
      : TCPServerConnection(socket), state_(std::move(state)) {}

  void run() override {
    id_ = state_->Register(socket());
    try {
      Session session(socket(), state_->params);
      socket().setReceiveTimeout(ToTimespan(state_->options.read_timeout));
      socket().setSendTimeout(ToTimespan(state_->options.read_timeout));
      socket().setNoDelay(true);
      bool first = true;
      while (!state_->stopping.load() && WaitForRequest(session, first)) {
        first = false;
        state_->SetDeadline(id_,
                            Clock::now() + state_->options.request_timeout);
        if (!ServeOne(session)) break;
      }
    } catch (...) {
      // A broken connection: nothing can be answered on it any more.
    }
    state_->Unregister(id_);
  }

 private:
  // Waits for the first bytes of the next request. An idle keep-alive
  // connection gives its thread up early when others wait for one.
  bool WaitForRequest(Session& session, bool first) {
    if (session.buffered() > 0) return true;
    if (first) {
      return socket().poll(ToTimespan(state_->options.read_timeout),
                           Poco::Net::Socket::SELECT_READ);
    }
    auto start = Clock::now();
    auto end = start + state_->options.keep_alive_timeout;
    constexpr auto kSlice = std::chrono::milliseconds(100);
    while (true) {
      auto now = Clock::now();
      if (now >= end) return false;
      auto wait = std::min<Clock::duration>(kSlice, end - now);
      if (socket().poll(
              ToTimespan(
                  std::chrono::duration_cast<std::chrono::milliseconds>(wait)),
              Poco::Net::Socket::SELECT_READ)) {
        return true;
      }
      if (state_->stopping.load()) return false;
      if (Clock::now() - start >= std::chrono::milliseconds(250) &&
          state_->Crowded()) {
        return false;
      }
    }
  }

  // Serves one request. Returns whether the connection stays open.
  bool ServeOne(Session& session) {
    HTTPServerResponseImpl response(session);
    std::unique_ptr<HTTPServerRequestImpl> http;
    try {
      http = std::make_unique<HTTPServerRequestImpl>(response, session,
                                                     state_->params.get());
    } catch (const Poco::Net::NoMessageException&) {
      return false;  // closed between requests
    } catch (const Poco::Net::MessageException& e) {
      if (session.networkException() != nullptr) return false;
      SendAdapterError(session, Status::InvalidArgument(
                                    "malformed HTTP request: " + e.message()));
      return false;
    } catch (const Poco::SyntaxException&) {  // e.g. Content-Length: abc
      SendAdapterError(session,
                       Status::InvalidArgument("malformed HTTP header"));
      return false;
    }
    // Everything below answers on `response`, which refers to `http`.
    try {
      return Serve(session, *http, response);
    } catch (const Poco::Net::MessageException& e) {
      if (session.networkException() != nullptr || response.sent()) {
        return false;
      }
      SendAdapterError(session, Status::InvalidArgument(
                                    "malformed HTTP request: " + e.message()));
      return false;
    } catch (const Poco::SyntaxException&) {
      if (response.sent()) return false;
      SendAdapterError(session,
                       Status::InvalidArgument("malformed HTTP header"));
      return false;
    } catch (const Poco::Net::NetException&) {
      return false;
    } catch (const Poco::TimeoutException&) {
      return false;
    } catch (const Poco::IOException&) {
      return false;
    } catch (const std::bad_alloc&) {
      if (response.sent()) return false;
      SendAdapterError(session,
                       Status::IOError("out of memory reading the request"));
      return false;
    } catch (const std::exception&) {
      if (response.sent()) return false;
      SendAdapterError(session, Status::IOError("internal server error"));
      return false;
    }
  }

  bool Serve(Session& session, HTTPServerRequestImpl& http,
             HTTPServerResponseImpl& response) {
    const HttpServerOptions& options = state_->options;
    bool keep_alive = state_->params->getKeepAlive() && http.getKeepAlive();

    Request request;
    request.method = http.getMethod();
    request.peer = http.clientAddress().host().toString();
    Status target = ParseTarget(http.getURI(), request);
    if (!target.ok()) {
      SendAdapterError(session, target);
      return false;
    }
    std::string auth = http.get("Authorization", "");
    if (auth.size() > 7 && strncasecmp(auth.c_str(), "Bearer ", 7) == 0) {
      std::string_view token(auth);
      token.remove_prefix(7);
      while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
      while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
      request.token = token;
    }
    request.lease = http.get("X-Sync-Lease", "");
    request.idempotency_key = http.get("Idempotency-Key", "");

    if (http.getChunkedTransferEncoding()) {
      if (http.getExpectContinue()) response.sendContinue();
      Status read = ReadChunked(session, request.body);
      if (!read.ok()) {
        SendAdapterError(session, read);
        return false;
      }
    } else if (http.hasContentLength()) {
      Poco::Int64 length = http.getContentLength64();
      if (length < 0) {
        SendAdapterError(session,
                         Status::InvalidArgument("negative Content-Length"));
        return false;
      }
      if (static_cast<uint64_t>(length) > options.max_body) {
        SendAdapterError(session, TooLarge());
        return false;
      }
      if (http.getExpectContinue()) response.sendContinue();
      // Grown as the bytes come, not as announced.
      auto remaining = static_cast<size_t>(length);
      while (remaining > 0) {
        size_t step = std::min<size_t>(remaining, 1 << 20);
        size_t at = request.body.size();
        request.body.resize(at + step);
        // Shorter than announced: the client went away mid-body.
        if (!ReadExactly(session, request.body.data() + at, step)) {
          return false;
        }
        remaining -= step;
      }
    }
    // Neither: no body (RFC 9112 6.3), and the connection stays usable.

    // The whole request is in: the deadline no longer applies.
    state_->SetDeadline(id_, Clock::time_point::max());
    Response answer = state_->handler.Handle(request);
    WriteResponse(session, response, answer, keep_alive,
                  request.method == "HEAD");
    return keep_alive;
  }

  Status TooLarge() const {
    return Status::TooLarge("request body larger than the limit of " +
                            std::to_string(state_->options.max_body) +
                            " bytes");
  }

  // Reads `n` bytes; false when the connection ends first.
  static bool ReadExactly(Session& session, char* out, size_t n) {
    while (n > 0) {
      int got = session.read(
          out, static_cast<std::streamsize>(std::min<size_t>(n, 1 << 30)));
      if (got <= 0) return false;
      out += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }

  // Reads one line of a chunked body's framing (a chunk size, a trailer),
  // without its CRLF. Framing lines are short: longer ones are refused.
  static Status ReadLine(Session& session, std::string& line) {
    line.clear();
    while (true) {
      int c = session.get();
      if (c == std::char_traits<char>::eof()) {
        throw Poco::Net::ConnectionAbortedException("client went away");
      }
      if (c == '\n') break;
      if (line.size() >= 4096) {
        return Status::InvalidArgument("chunked body: framing line too long");
      }
      line += static_cast<char>(c);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return Status::Ok();
  }

  // Decodes a chunked body (RFC 9112 7.1) as it arrives, refusing it as
  // soon as it passes max_body: no more than that is ever held.
  Status ReadChunked(Session& session, std::string& out) {
    const size_t limit = state_->options.max_body;
    std::string line;
    while (true) {
      SYNCSTACK_RETURN_IF_ERROR(ReadLine(session, line));
      size_t end = line.find_first_of("; \t");
      std::string_view digits = std::string_view(line).substr(0, end);
      if (digits.empty() || digits.size() > 15) {
        return Status::InvalidArgument("chunked body: bad chunk size");
      }
      size_t size = 0;
      for (char c : digits) {
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0) {
          return Status::InvalidArgument("chunked body: bad chunk size");
        }
        size = size * 16 + static_cast<size_t>(v);
      }
      if (size == 0) break;
      if (size > limit - out.size()) return TooLarge();
      size_t at = out.size();
      out.resize(at + size);
      if (!ReadExactly(session, out.data() + at, size)) {
        throw Poco::Net::ConnectionAbortedException("client went away");
      }
      SYNCSTACK_RETURN_IF_ERROR(ReadLine(session, line));
      if (!line.empty()) {
        return Status::InvalidArgument(
            "chunked body: chunk longer than its size");
      }
    }
    // Trailer fields (ignored), up to the empty line.
    for (int fields = 0;; ++fields) {
      SYNCSTACK_RETURN_IF_ERROR(ReadLine(session, line));
      if (line.empty()) return Status::Ok();
      if (fields >= 64) {
        return Status::InvalidArgument("chunked body: too many trailers");
      }
    }
  }

  static Status ParseTarget(const std::string& uri, Request& request) {
    std::string_view target(uri);
    // absolute-form: http://host[:port]/path?query
    if (target.size() > 7 && (strncasecmp(uri.c_str(), "http://", 7) == 0 ||
                              strncasecmp(uri.c_str(), "https://", 8) == 0)) {
      size_t start = target.find("://") + 3;
      size_t slash = target.find_first_of("/?", start);
      target = slash == std::string_view::npos ? std::string_view("/")
                                               : target.substr(slash);
    }
    if (target.empty() || target.front() != '/') {
      return Status::InvalidArgument("request target must start with '/'");
    }
    target = target.substr(0, target.find('#'));
    size_t q = target.find('?');
    if (!http_internal::PercentDecode(target.substr(0, q), false,
                                      request.path)) {
      return Status::InvalidArgument("malformed %-escape in the path");
    }
    if (q != std::string_view::npos &&
        !http_internal::DecodeQuery(target.substr(q + 1), request.query)) {
      return Status::InvalidArgument("malformed %-escape in the query");
    }
    return Status::Ok();
  }

  void WriteResponse(Session& session, HTTPServerResponseImpl& response,
                     const Response& answer, bool keep_alive, bool head) {
    int status = answer.status;
    const std::string* body = &answer.body;
    std::string fallback;
    if (status < 200 || status > 599) {
      EncodeError(Status::IOError("the handler gave an invalid status"), -1,
                  fallback);
      status = 500;
      body = &fallback;
    }
    response.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(status));
    response.setDate(Poco::Timestamp());
    response.setKeepAlive(keep_alive);
    session.setKeepAlive(keep_alive);
    bool no_body = status == 204 || status == 304;
    if (!no_body) {
      response.setContentLength64(static_cast<Poco::Int64>(body->size()));
      if (!body->empty()) {
        response.setContentType(body == &answer.body &&
                                        !answer.content_type.empty()
                                    ? answer.content_type
                                    : std::string("application/json"));
      }
    }
    if (answer.retry_after >= 0) {
      response.set("Retry-After", std::to_string(answer.retry_after));
    }
    std::ostream& out = response.send();
    out.exceptions(std::ios::badbit);
    if (!no_body && !head) {
      out.write(body->data(), static_cast<std::streamsize>(body->size()));
    }
    out.flush();
  }

  // Answers an error found by the adapter itself (not the handler), then
  // closes the connection: the rest of the request is not read.
  void SendAdapterError(Session& session, const Status& status) {
    try {
      std::string body;
      EncodeError(status, -1, body);
      HTTPServerResponseImpl response(session);
      response.setVersion(HTTPResponse::HTTP_1_1);
      response.setStatusAndReason(
          static_cast<HTTPResponse::HTTPStatus>(HttpStatusFor(status.code())));
      response.setDate(Poco::Timestamp());
      response.setKeepAlive(false);
      session.setKeepAlive(false);
      response.setContentType("application/json");
      response.setContentLength64(static_cast<Poco::Int64>(body.size()));
      std::ostream& out = response.send();
      out.write(body.data(), static_cast<std::streamsize>(body.size()));
      out.flush();
      LingeringClose();
    } catch (...) {
    }
  }

  // Stops sending, then reads and drops what the client still sends for a
  // short while, so that it gets to read our answer instead of a reset.
  void LingeringClose() {
    Poco::Net::StreamSocket& s = socket();
    s.shutdownSend();
    s.setReceiveTimeout(Poco::Timespan(0, 100'000));
    auto end = Clock::now() + std::min<std::chrono::milliseconds>(
                                  state_->options.read_timeout,
                                  std::chrono::milliseconds(1000));
    char buffer[64 << 10];
    while (Clock::now() < end && !state_->stopping.load()) {
      if (s.receiveBytes(buffer, sizeof buffer) <= 0) break;
    }
  }

  std::shared_ptr<ServerState> state_;
  uint64_t id_ = 0;
};

class ConnectionFactory final : public Poco::Net::TCPServerConnectionFactory {
 public:
  explicit ConnectionFactory(std::shared_ptr<ServerState> state)
      : state_(std::move(state)) {}
  Poco::Net::TCPServerConnection* createConnection(
      const Poco::Net::StreamSocket& socket) override {
    return new Connection(socket, state_);
  }

 private:
  std::shared_ptr<ServerState> state_;
};

class PocoHttpServer final : public HttpServer {
 public:
  PocoHttpServer(std::shared_ptr<ServerState> state,
                 std::unique_ptr<Poco::ThreadPool> pool,
                 std::unique_ptr<Poco::Net::TCPServer> tcp, uint16_t port)
      : state_(std::move(state)),
        pool_(std::move(pool)),
        tcp_(std::move(tcp)),
        port_(port) {
    state_->tcp.store(tcp_.get());
    watchdog_ = std::thread([this] { Watch(); });
  }
  ~PocoHttpServer() override { Stop(); }

  uint16_t port() const override { return port_; }

  void Stop() override {
    std::lock_guard stop_lock(stop_mu_);
    if (tcp_ == nullptr) return;
    state_->stopping.store(true);
    tcp_->stop();  // no new connections; queued ones are dropped
    {
      std::unique_lock lock(state_->mu);
      for (auto& [id, live] : state_->live) ShutdownQuietly(live.socket);
      state_->cv.notify_all();
      state_->cv.wait(lock, [&] { return state_->live.empty(); });
    }
    watchdog_.join();
    state_->tcp.store(nullptr);
    tcp_.reset();
    pool_->joinAll();
    pool_.reset();
  }

 private:
  // Drops connections whose request takes longer than request_timeout.
  void Watch() {
    std::unique_lock lock(state_->mu);
    while (!state_->stopping.load()) {
      state_->cv.wait_for(lock, std::chrono::milliseconds(100));
      auto now = Clock::now();
      for (auto& [id, live] : state_->live) {
        if (live.deadline <= now) {
          live.deadline = Clock::time_point::max();
          ShutdownQuietly(live.socket);
        }
      }
    }
  }

  std::shared_ptr<ServerState> state_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::TCPServer> tcp_;
  uint16_t port_;
  std::mutex stop_mu_;
  std::thread watchdog_;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> StartHttpServer(
    Handler& handler, const HttpServerOptions& options) {
  if (options.max_threads < 1 || options.max_queued < 0 ||
      options.read_timeout.count() <= 0 ||
      options.request_timeout.count() <= 0 ||
      options.keep_alive_timeout.count() < 0) {
    return Status::InvalidArgument(
        "HttpServerOptions: max_threads must be >= 1, max_queued >= 0 and "
        "timeouts positive");
  }
  std::string where = options.host + ":" + std::to_string(options.port);
  Poco::Net::SocketAddress address;
  try {
    address = Poco::Net::SocketAddress(options.host, options.port);
  } catch (const Poco::Exception& e) {
    return Status::InvalidArgument("cannot listen on " + where + ": " +
                                   e.displayText());
  }
  try {
    Poco::Net::ServerSocket socket;
    // SO_REUSEADDR lets a restarted server bind at once; SO_REUSEPORT
    // stays off so that no second server can share the port.
    socket.bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
    socket.listen(options.backlog);
    uint16_t port = socket.address().port();

    auto state = std::make_shared<ServerState>(handler, options);
    state->params = new Poco::Net::HTTPServerParams;
    state->params->setMaxThreads(options.max_threads);
    state->params->setMaxQueued(options.max_queued);
    state->params->setTimeout(ToTimespan(options.read_timeout));
    state->params->setKeepAlive(true);
    state->params->setKeepAliveTimeout(ToTimespan(options.keep_alive_timeout));
    state->params->setServerName("");
    state->params->setSoftwareVersion("");

    auto pool = std::make_unique<Poco::ThreadPool>(
        std::min(2, options.max_threads), options.max_threads, 60);
    Poco::Net::TCPServerParams::Ptr tcp_params(state->params.get(), true);
    auto tcp = std::make_unique<Poco::Net::TCPServer>(
        new ConnectionFactory(state), *pool, socket, tcp_params);
    tcp->start();
    return std::unique_ptr<HttpServer>(std::make_unique<PocoHttpServer>(
        std::move(state), std::move(pool), std::move(tcp), port));
  } catch (const Poco::Exception& e) {
    return Status::Unavailable("cannot listen on " + where + ": " +
                               e.displayText());
  } catch (const std::exception& e) {
    return Status::IOError("cannot start the HTTP server on " + where + ": " +
                           e.what());
  }
}

}  // namespace syncstack
