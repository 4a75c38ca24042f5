// The HTTP server: one I/O thread owns every connection through epoll and
// reads requests non-blocking against deadlines; only COMPLETE requests go
// to a fixed pool of worker threads that call the Handler; the answers come
// back to the I/O thread to be written. An idle or stalled connection is a
// file descriptor and a small struct, never a thread. Why this design:
// docs/decisions/http-connections.md; with TLS the same thread drives
// non-blocking OpenSSL sessions: docs/decisions/tls.md.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http_chunked.h"
#include "http_request_reader.h"
#include "http_tls.h"
#include "syncstack/codec.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/protocol.h"

namespace syncstack {

HttpServer::~HttpServer() = default;

namespace {

using Clock = std::chrono::steady_clock;
using http_internal::AppendChunk;
using http_internal::kLastChunk;
using http_internal::RequestReader;

// From the I/O thread to a worker: a complete request, or (`source` set)
// the wish for the next piece of a streamed answer whose last piece the
// socket took.
struct Job {
  uint64_t id = 0;
  Request request;
  bool keep_alive = false;
  bool head = false;
  bool http10 = false;  // the client cannot read a chunked answer
  std::shared_ptr<BodySource> source;
};

// The bytes of an answer (or of its next piece), from a worker back to the
// I/O thread.
struct Answer {
  uint64_t id = 0;
  std::string bytes;
  bool keep_alive = false;
  // Set: more of the answer is to come from it once `bytes` are written.
  std::shared_ptr<BodySource> source;
  // The answer failed after its head was sent: close the connection once
  // `bytes` are written, without the last chunk.
  bool cut = false;
};

// A streamed answer goes in chunks of at most this many bytes, one pulled
// per turn of the worker pool (docs/decisions/streamed-answers.md).
constexpr size_t kStreamPiece = size_t{128} << 10;
// An HTTP/1.0 client gets a streamed answer whole, with a Content-Length,
// up to this size (413 beyond): it cannot read chunks.
constexpr size_t kMaxWholeAnswer = size_t{256} << 20;

// "Date: ..." in the IMF-fixdate form of RFC 9110 5.6.7, C locale.
void AppendDate(std::string& out) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed",
                                          "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[64];
  std::snprintf(text, sizeof text,
                "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  out += text;
}

// X-Request-Id: a client's own id is kept when it is sane (1 to
// kMaxRequestId visible ASCII characters, so that it cannot break a log
// line); otherwise the server names the request.
constexpr size_t kMaxRequestId = 128;

bool SaneRequestId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxRequestId &&
         std::all_of(id.begin(), id.end(),
                     [](char c) { return c > 0x20 && c < 0x7f; });
}

// Names requests "<16 hex digits of this server>-<counter in hex>": unique
// within the server, and across servers but by chance.
// Thread safety: Next may be called concurrently.
class RequestIds {
 public:
  RequestIds() {
    std::random_device random;
    uint64_t prefix = (uint64_t{random()} << 32) | random();
    char text[17];
    std::snprintf(text, sizeof text, "%016llx",
                  static_cast<unsigned long long>(prefix));
    prefix_ = text;
  }

  std::string Next() {
    char counter[17];
    std::snprintf(counter, sizeof counter, "%llx",
                  static_cast<unsigned long long>(++count_));
    return prefix_ + '-' + counter;
  }

 private:
  std::string prefix_;
  std::atomic<uint64_t> count_{0};
};

// The status line and the headers every answer has.
void AppendHead(int status, bool keep_alive, std::string& out) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += Poco::Net::HTTPResponse::getReasonForStatus(
      static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  out += "\r\n";
  AppendDate(out);
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
}

// The whole answer to `answer` on the wire, named `request_id`.
std::string FormatAnswer(const Response& answer, bool keep_alive, bool head,
                         std::string_view request_id) {
  int status = answer.status;
  const std::string* body = &answer.body;
  std::string fallback;
  if (status < 200 || status > 599) {
    EncodeError(Status::IOError("the handler gave an invalid status"), -1,
                fallback);
    status = 500;
    body = &fallback;
  }
  std::string out;
  bool no_body = status == 204 || status == 304;
  out.reserve(384 + (no_body || head ? 0 : body->size()));
  AppendHead(status, keep_alive, out);
  const bool chunked = body == &answer.body && answer.source != nullptr;
  if (chunked && !no_body) {
    out += "Transfer-Encoding: chunked\r\n";
    out += "Content-Type: ";
    out += answer.content_type.empty() ? std::string("application/json")
                                       : answer.content_type;
    out += "\r\n";
  } else if (!no_body) {
    out += "Content-Length: " + std::to_string(body->size()) + "\r\n";
    if (!body->empty()) {
      out += "Content-Type: ";
      out += body == &answer.body && !answer.content_type.empty()
                 ? answer.content_type
                 : std::string("application/json");
      out += "\r\n";
    }
  }
  if (answer.retry_after >= 0) {
    out += "Retry-After: " + std::to_string(answer.retry_after) + "\r\n";
  }
  out += "X-Request-Id: ";
  out += request_id;
  out += "\r\n";
  if (body == &answer.body) out += answer.headers;
  out += "\r\n";
  if (!no_body && !head) out += *body;
  return out;
}

// An error found by the server itself (not the handler); the connection
// closes after it.
std::string FormatError(const Status& status, std::string_view request_id,
                        int64_t retry_after = -1) {
  Response answer;
  answer.status = HttpStatusFor(status.code());
  EncodeError(status, -1, answer.body);
  answer.retry_after = retry_after;
  return FormatAnswer(answer, /*keep_alive=*/false, /*head=*/false, request_id);
}

// The answer to `job`, a request: the handler's Response on the wire. A
// streamed answer (Response::source) goes chunked with its first piece,
// the source riding along for the rest; a failure before the first piece
// is an error answer as usual. An HTTP/1.0 client gets it whole.
Answer Respond(Handler& handler, Job& job) {
  job.request.accepts_source = true;
  Response response = handler.Handle(job.request);
  Answer answer;
  answer.id = job.id;
  answer.keep_alive = job.keep_alive;
  std::string first;
  if (response.source != nullptr && job.head) {
    // The head says chunked, as it would to a GET; nothing is read.
  } else if (response.source != nullptr && job.http10) {
    Status read = ReadWholeBody(response, kMaxWholeAnswer);
    if (!read.ok()) {
      response = Response{};
      response.status = HttpStatusFor(read.code());
      EncodeError(read.WithContext("whole answer (HTTP/1.0)"), -1,
                  response.body);
    }
  } else if (response.source != nullptr) {
    auto more = response.source->Next(kStreamPiece, first);
    if (!more.ok()) {
      std::string headers = std::move(response.headers);
      response = Response{};
      response.status = HttpStatusFor(more.status().code());
      response.headers = std::move(headers);
      EncodeError(more.status(), -1, response.body);
    } else if (!*more) {
      response.source.reset();  // an empty body
    }
  }
  answer.bytes =
      FormatAnswer(response, job.keep_alive, job.head, job.request.request_id);
  if (response.source != nullptr && !job.head) {
    AppendChunk(first, answer.bytes);
    answer.source = std::move(response.source);
  }
  return answer;
}

// The next piece of a streamed answer: a chunk (the source riding along
// again), or the last chunk, or nothing and `cut` when the source failed.
Answer Pull(Job& job) {
  Answer answer;
  answer.id = job.id;
  answer.keep_alive = job.keep_alive;
  auto more = job.source->Next(kStreamPiece, answer.bytes);
  if (!more.ok()) {
    answer.bytes.clear();
    answer.cut = true;
    answer.keep_alive = false;
    return answer;
  }
  if (!*more) {
    answer.bytes = kLastChunk;
    return answer;
  }
  std::string piece;
  piece.swap(answer.bytes);
  AppendChunk(piece, answer.bytes);
  answer.source = std::move(job.source);
  return answer;
}

// The threads that call the Handler. Jobs wait in a queue that holds at
// most one job per connection.
class WorkerPool {
 public:
  WorkerPool(Handler& handler, int threads,
             std::function<void(Answer)> on_answer)
      : handler_(handler), on_answer_(std::move(on_answer)) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WorkerPool() { Stop(); }

  void Submit(Job job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  // Joins the threads; jobs not yet started are dropped. Idempotent.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      jobs_.clear();
    }
    cv_.notify_all();
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  void Run() {
    while (true) {
      Job job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      on_answer_(job.source != nullptr ? Pull(job) : Respond(handler_, job));
    }
  }

  Handler& handler_;
  std::function<void(Answer)> on_answer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

struct FreeSsl {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// One accepted connection, owned by the I/O thread.
struct Connection {
  Connection(int f, uint64_t i, const HttpServerOptions& o,
             const Handler& limits, Clock::time_point t)
      : fd(f),
        id(i),
        reader(o.max_head, o.max_body, &limits),
        request_start(t),
        last_io(t) {}

  // kHandshake: the TLS handshake (TLS only; under the head deadline);
  // kReading: reading a request (or idle between requests);
  // kWorking: a worker has the request, the socket is not watched;
  // kWriting: the answer waits for the socket;
  // kClosing: our side is shut down, the rest of the input is dropped.
  enum class Phase { kHandshake, kReading, kWorking, kWriting, kClosing };

  int fd;
  uint64_t id;
  std::unique_ptr<SSL, FreeSsl> ssl;  // null for plain HTTP
  Phase phase = Phase::kReading;
  RequestReader reader;
  std::string peer;        // the client's address (login throttling)
  bool continued = false;  // "100 Continue" sent for this request
  uint64_t served = 0;     // answers written
  std::string pending;     // bytes read past the request being answered
  std::string out;
  size_t out_at = 0;
  bool keep_alive = false;  // what to do once `out` is written
  // A streamed answer: once `out` is written, a worker is asked for the
  // next piece from `source`; `cut`: close once `out` is written.
  std::shared_ptr<BodySource> source;
  bool cut = false;
  bool closed = false;
  Clock::time_point request_start;  // accept, or a later request's 1st byte
  Clock::time_point last_io;        // last byte read or written
  Clock::time_point close_by;       // kClosing: when to give up draining
  uint32_t events = 0;              // registered with epoll (0: not)
};

// The numeric host of an accepted peer ("" if not IPv4/IPv6).
std::string PeerAddress(const sockaddr_storage& from) {
  char text[INET6_ADDRSTRLEN] = {};
  if (from.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&from);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
  } else if (from.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&from);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
  }
  return text;
}

// A numeric IPv4 or IPv6 address as it appears in X-Forwarded-For.
bool LooksLikeAddress(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return false;
  unsigned char buf[sizeof(in6_addr)];
  const std::string z(text);
  return inet_pton(AF_INET, z.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

// The client behind `peer`: while the hop at hand is a trusted proxy, the
// next one is the right-most address of `forwarded_for` not yet taken
// ("client, proxy1, proxy2" as proxies append). A malformed entry stops
// the walk at the hop that added it (never an address a client made up
// past a proxy we do not trust).
std::string ClientAddress(const std::string& peer,
                          std::string_view forwarded_for,
                          const std::vector<std::string>& trusted) {
  auto is_trusted = [&](std::string_view hop) {
    return std::find(trusted.begin(), trusted.end(), hop) != trusted.end();
  };
  std::string hop = peer;
  while (is_trusted(hop) && !forwarded_for.empty()) {
    size_t comma = forwarded_for.rfind(',');
    std::string_view last = comma == std::string_view::npos
                                ? forwarded_for
                                : forwarded_for.substr(comma + 1);
    forwarded_for = comma == std::string_view::npos
                        ? std::string_view()
                        : forwarded_for.substr(0, comma);
    while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) {
      last.remove_prefix(1);
    }
    while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) {
      last.remove_suffix(1);
    }
    if (!LooksLikeAddress(last)) break;
    hop = std::string(last);
  }
  return hop;
}

constexpr uint64_t kListenerKey = 0;
constexpr uint64_t kWakeKey = 1;
constexpr uint64_t kFirstConnection = 2;
constexpr size_t kReadBuffer = 64u << 10;
constexpr int kReadsPerEvent = 4;  // then others get their turn
constexpr int kAcceptsPerEvent = 256;
constexpr auto kSweepEvery = std::chrono::milliseconds(50);
constexpr auto kMaxLinger = std::chrono::milliseconds(1000);
constexpr char kTlsHandshakeRecord = 0x16;  // a ClientHello's first byte

class EpollHttpServer final : public HttpServer {
 public:
  EpollHttpServer(Handler& handler, const HttpServerOptions& options,
                  Poco::Net::ServerSocket socket, Poco::Net::Context::Ptr tls)
      : options_(options),
        handler_(handler),
        tls_(std::move(tls)),
        listener_(std::move(socket)),
        read_buffer_(kReadBuffer) {
    listen_fd_ = listener_.impl()->sockfd();
    port_ = listener_.address().port();
    workers_ = std::make_unique<WorkerPool>(
        handler, options.max_threads,
        [this](Answer answer) { Deliver(std::move(answer)); });
  }
  ~EpollHttpServer() override { Stop(); }

  // Sets up epoll and starts the I/O thread. Errors: kIOError.
  Status Start() {
    listener_.setBlocking(false);
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
      return Status::IOError("cannot set up epoll: " +
                             std::string(std::strerror(errno)));
    }
    epoll_event listen_event{EPOLLIN, {.u64 = kListenerKey}};
    epoll_event wake_event{EPOLLIN, {.u64 = kWakeKey}};
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &listen_event) != 0 ||
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake_event) != 0) {
      return Status::IOError("cannot watch the listening socket: " +
                             std::string(std::strerror(errno)));
    }
    io_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }
  size_t open_connections() const override { return open_.load(); }

  void Stop() override {
    std::lock_guard stop_lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_.store(true);
    Wake();
    if (io_.joinable()) io_.join();  // it closes every connection
    workers_->Stop();                // waits for requests being handled
    {
      // Streamed answers not taken hold sources, which hold stores.
      std::lock_guard lock(answers_mu_);
      answers_.clear();
    }
    for (int fd : {epoll_fd_, wake_fd_, reserve_fd_}) {
      if (fd >= 0) close(fd);
    }
    try {
      listener_.close();
    } catch (...) {
    }
  }

 private:
  // --- the loop ---

  void Loop() {
    // OpenSSL writes with write(2): a reset peer must give EPIPE, not
    // SIGPIPE (plain sends use MSG_NOSIGNAL).
    http_internal::BlockSigpipeOnThisThread();
    std::vector<epoll_event> events(512);
    auto next_sweep = Clock::now() + kSweepEvery;
    while (!stopping_.load()) {
      int n =
          epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                     static_cast<int>(kSweepEvery.count()));
      now_ = Clock::now();
      for (int i = 0; i < n; ++i) Dispatch(events[static_cast<size_t>(i)]);
      if (now_ >= next_sweep) {
        Sweep();
        next_sweep = now_ + kSweepEvery;
      }
      Reap();
    }
    for (auto& [id, connection] : connections_) close(connection->fd);
    connections_.clear();
    open_.store(0);
  }

  void Dispatch(const epoll_event& event) {
    if (event.data.u64 == kListenerKey) return AcceptSome();
    if (event.data.u64 == kWakeKey) return TakeAnswers();
    auto it = connections_.find(event.data.u64);
    if (it == connections_.end() || it->second->closed) return;
    Connection& c = *it->second;
    switch (c.phase) {
      case Connection::Phase::kHandshake:
        return Handshake(c);
      case Connection::Phase::kReading:
        return ReadRequest(c);
      case Connection::Phase::kWriting:
        return WriteOut(c);
      case Connection::Phase::kClosing:
        return Drain(c);
      case Connection::Phase::kWorking:
        return;  // not watched
    }
  }

  // Closes every connection whose deadline passed.
  void Sweep() {
    for (auto& [id, connection] : connections_) {
      if (!connection->closed && Deadline(*connection) <= now_) {
        Close(*connection);
      }
    }
  }

  // When `c` is dropped if nothing happens on it.
  Clock::time_point Deadline(const Connection& c) const {
    const HttpServerOptions& o = options_;
    switch (c.phase) {
      case Connection::Phase::kWorking:
        return Clock::time_point::max();
      case Connection::Phase::kWriting:
        return c.last_io + o.read_timeout;
      case Connection::Phase::kClosing:
        return c.close_by;
      case Connection::Phase::kHandshake:  // counts as the first head
      case Connection::Phase::kReading:
        break;
    }
    if (!c.reader.started() && c.served > 0) {
      return c.last_io + o.keep_alive_timeout;  // idle between requests
    }
    auto gap = c.last_io + o.read_timeout;
    auto whole = c.request_start + o.request_timeout;
    if (c.reader.state() == RequestReader::State::kHead) {
      return std::min({gap, whole, c.request_start + o.head_timeout});
    }
    return std::min(gap, whole);
  }

  // --- accepting ---

  void AcceptSome() {
    for (int i = 0; i < kAcceptsPerEvent; ++i) {
      sockaddr_storage from{};
      socklen_t from_size = sizeof from;
      int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&from),
                       &from_size, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) ShedWithReserve();
        return;  // EAGAIN, or an error that the next event retries
      }
      if (OpenConnections() >= options_.max_connections &&
          !CloseLongestIdle()) {
        Refuse(fd);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      uint64_t id = next_id_++;
      auto connection = std::make_unique<Connection>(fd, id, options_, handler_,
                                                     Clock::now());
      Connection& c = *connection;
      c.peer = PeerAddress(from);
      connections_.emplace(id, std::move(connection));
      open_.fetch_add(1);
      if (tls_ && !StartTls(c)) continue;
      Watch(c, EPOLLIN);
    }
  }

  size_t OpenConnections() const {
    return connections_.size() - closed_.size();
  }

  // At the limit, an idle keep-alive connection gives way to a new one
  // (RFC 9112 9.8 lets a server close an idle connection at any time):
  // closes the one idle longest. False when none is idle.
  bool CloseLongestIdle() {
    Connection* longest = nullptr;
    for (auto& [id, connection] : connections_) {
      Connection& c = *connection;
      if (c.closed || c.phase != Connection::Phase::kReading ||
          c.reader.started() || c.served == 0) {
        continue;
      }
      if (longest == nullptr || c.last_io < longest->last_io) longest = &c;
    }
    if (longest == nullptr) return false;
    Close(*longest);
    return true;
  }

  // Out of descriptors: frees the reserve one to accept and refuse a
  // waiting connection, so that the listener does not spin.
  void ShedWithReserve() {
    if (reserve_fd_ < 0) return;
    close(reserve_fd_);
    int fd =
        accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) Refuse(fd);
    reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }

  // Answers 503 in one non-blocking send (best effort) and closes. A TLS
  // client could not read a plain answer: it is only closed.
  void Refuse(int fd) {
    if (!tls_) {
      const std::string busy = FormatError(
          Status::Unavailable("the server has too many connections"),
          request_ids_.Next(), 1);
      (void)!send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    close(fd);
  }

  // --- TLS ---

  // Gives a new connection its server-side TLS session; the handshake
  // starts when the client's hello arrives. False when it was closed.
  bool StartTls(Connection& c) {
    c.ssl.reset(SSL_new(tls_->sslContext()));
    if (!c.ssl || SSL_set_fd(c.ssl.get(), c.fd) != 1) {
      ERR_clear_error();
      Close(c);
      return false;
    }
    SSL_set_accept_state(c.ssl.get());
    c.phase = Connection::Phase::kHandshake;
    return true;
  }

  // Moves the handshake on as far as the bytes at hand allow. It costs no
  // thread while it waits, and the head deadline (from the accept) bounds
  // it. A client that speaks plain HTTP to this port is told so and
  // closed.
  void Handshake(Connection& c) {
    c.last_io = now_;
    ERR_clear_error();
    int done = SSL_do_handshake(c.ssl.get());
    if (done == 1) {
      c.phase = Connection::Phase::kReading;
      Watch(c, EPOLLIN);
      return ReadRequest(c);
    }
    switch (SSL_get_error(c.ssl.get(), done)) {
      case SSL_ERROR_WANT_READ:
        return Watch(c, EPOLLIN);
      case SSL_ERROR_WANT_WRITE:
        return Watch(c, EPOLLOUT);
      case SSL_ERROR_SSL:
        if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_HTTP_REQUEST) {
          ERR_clear_error();
          c.ssl.reset();  // nothing was sent: the answer goes in clear
          return SendError(c, Status::InvalidArgument(
                                  "this port speaks HTTPS: use https://"));
        }
        break;
      default:
        break;
    }
    ERR_clear_error();
    Close(c);
  }

  // Reads what the connection has: > 0 bytes, 0 when it is closed (or
  // failed), -1 when nothing is there yet (the socket is watched for what
  // the TLS session waits for).
  ssize_t ReadSome(Connection& c) {
    if (!c.ssl) {
      ssize_t n = recv(c.fd, read_buffer_.data(), read_buffer_.size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return -1;
      return n < 0 ? 0 : n;
    }
    // One record at most per call (16 KiB, within the 64 KiB buffer), and
    // no read-ahead: what is not returned stays in the kernel, so level-
    // triggered epoll reports it again.
    ERR_clear_error();
    int n = SSL_read(c.ssl.get(), read_buffer_.data(),
                     static_cast<int>(read_buffer_.size()));
    if (n > 0) return n;
    return TlsWait(c, n) ? -1 : 0;
  }

  // Writes from `data`: the bytes taken, 0 when the connection failed, -1
  // when the socket is full (and watched for what the session waits for).
  ssize_t WriteSome(Connection& c, std::string_view data) {
    if (!c.ssl) {
      ssize_t n = send(c.fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        Watch(c, EPOLLOUT);
        return -1;
      }
      return n < 0 ? 0 : n;
    }
    ERR_clear_error();
    int n = SSL_write(c.ssl.get(), data.data(),
                      static_cast<int>(std::min<size_t>(data.size(), 1 << 30)));
    if (n > 0) return n;
    return TlsWait(c, n) ? -1 : 0;
  }

  // After a TLS call returned `result` <= 0: watches what the session
  // waits for and returns true, or returns false when it failed or ended.
  bool TlsWait(Connection& c, int result) {
    switch (SSL_get_error(c.ssl.get(), result)) {
      case SSL_ERROR_WANT_READ:
        Watch(c, EPOLLIN);
        return !c.closed;
      case SSL_ERROR_WANT_WRITE:
        Watch(c, EPOLLOUT);
        return !c.closed;
      default:
        ERR_clear_error();
        return false;
    }
  }

  // --- reading ---

  void ReadRequest(Connection& c) {
    for (int i = 0; i < kReadsPerEvent; ++i) {
      ssize_t n = ReadSome(c);
      if (n == 0) return Close(c);
      if (n < 0) return;
      c.last_io = now_;
      if (!Consume(c, std::string_view(read_buffer_.data(),
                                       static_cast<size_t>(n)))) {
        return;
      }
    }
  }

  // Feeds `bytes` to the request being read. Returns whether to read on.
  bool Consume(Connection& c, std::string_view bytes) {
    if (!c.reader.started() && c.served > 0) c.request_start = now_;
    if (!c.ssl && c.served == 0 && !c.reader.started() && !bytes.empty() &&
        bytes[0] == kTlsHandshakeRecord) {
      Close(c);  // a TLS client on a plain port: it could not read a 400
      return false;
    }
    size_t used = c.reader.Feed(bytes);
    switch (c.reader.state()) {
      case RequestReader::State::kHead:
        return true;
      case RequestReader::State::kBody:
        return SendContinue(c);
      case RequestReader::State::kFailed:
        SendError(c, c.reader.error());
        return false;
      case RequestReader::State::kDone:
        c.pending.assign(bytes.substr(used));
        Hand(c);
        return false;
    }
    return false;
  }

  // Tells a client that waits for it to send the body. Returns false when
  // the connection was closed.
  bool SendContinue(Connection& c) {
    if (!c.reader.expects_continue() || c.continued) return true;
    c.continued = true;
    static constexpr std::string_view kContinue =
        "HTTP/1.1 100 Continue\r\n\r\n";
    ssize_t n = WriteSome(c, kContinue);
    // The previous answer was written whole, so this fits; if not, the
    // connection is beyond saving.
    if (n != static_cast<ssize_t>(kContinue.size())) {
      Close(c);
      return false;
    }
    return true;
  }

  // Gives the complete request to a worker; the socket is not watched
  // until the answer is back, so a pipelining client cannot queue more.
  void Hand(Connection& c) {
    c.phase = Connection::Phase::kWorking;
    Watch(c, 0);
    Job job;
    job.id = c.id;
    job.keep_alive = c.reader.keep_alive();
    job.head = c.reader.head_method();
    job.http10 = c.reader.http10();
    job.request = std::move(c.reader.request());
    job.request.peer = ClientAddress(c.peer, c.reader.forwarded_for(),
                                     options_.trusted_proxies);
    if (!SaneRequestId(job.request.request_id)) {
      job.request.request_id = request_ids_.Next();
    }
    c.reader.Reset();
    c.continued = false;
    workers_->Submit(std::move(job));
  }

  // --- writing ---

  // Called by a worker: queues the answer and wakes the I/O thread.
  void Deliver(Answer answer) {
    bool was_empty;
    {
      std::lock_guard lock(answers_mu_);
      was_empty = answers_.empty();
      answers_.push_back(std::move(answer));
    }
    if (was_empty) Wake();
  }

  void Wake() {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }

  void TakeAnswers() {
    uint64_t count;
    (void)!read(wake_fd_, &count, sizeof count);
    std::vector<Answer> answers;
    {
      std::lock_guard lock(answers_mu_);
      answers.swap(answers_);
    }
    for (Answer& answer : answers) {
      auto it = connections_.find(answer.id);
      if (it == connections_.end() || it->second->closed) continue;
      Connection& c = *it->second;
      c.out = std::move(answer.bytes);
      c.out_at = 0;
      c.keep_alive = answer.keep_alive;
      c.source = std::move(answer.source);
      c.cut = answer.cut;
      c.phase = Connection::Phase::kWriting;
      c.last_io = now_;
      WriteOut(c);
    }
  }

  void SendError(Connection& c, const Status& status) {
    c.out = FormatError(status, request_ids_.Next());
    c.out_at = 0;
    c.keep_alive = false;
    c.phase = Connection::Phase::kWriting;
    WriteOut(c);
  }

  void WriteOut(Connection& c) {
    while (c.out_at < c.out.size()) {
      ssize_t n = WriteSome(c, std::string_view(c.out).substr(c.out_at));
      if (n < 0) return;  // watched for the socket
      if (n == 0) return Close(c);
      c.out_at += static_cast<size_t>(n);
      c.last_io = now_;
    }
    c.out.clear();
    c.out_at = 0;
    if (c.source != nullptr) return PullNext(c);
    if (c.cut) return Close(c);  // no last chunk: the client sees it cut
    std::string().swap(c.out);
    ++c.served;
    if (c.keep_alive) return NextRequest(c);
    BeginClose(c);
  }

  // The socket took the last piece of a streamed answer: a worker makes
  // the next one. The socket is not watched meanwhile, so a slow reader
  // holds one piece here and no thread.
  void PullNext(Connection& c) {
    c.phase = Connection::Phase::kWorking;
    Watch(c, 0);
    Job job;
    job.id = c.id;
    job.keep_alive = c.keep_alive;
    job.source = std::move(c.source);
    workers_->Submit(std::move(job));
  }

  // Reads the next request of a kept-alive connection, starting with what
  // the client already sent.
  void NextRequest(Connection& c) {
    c.phase = Connection::Phase::kReading;
    c.last_io = now_;
    Watch(c, EPOLLIN);
    if (c.pending.empty()) return;
    std::string pending;
    pending.swap(c.pending);
    if (Consume(c, pending)) return;
  }

  // --- closing ---

  // Stops sending, then reads and drops what the client still sends for a
  // short while, so that it reads our answer instead of a reset.
  void BeginClose(Connection& c) {
    if (c.ssl) {
      ERR_clear_error();
      SSL_shutdown(c.ssl.get());  // close_notify, best effort
      ERR_clear_error();
    }
    shutdown(c.fd, SHUT_WR);
    c.phase = Connection::Phase::kClosing;
    c.close_by =
        now_ + std::min<Clock::duration>(options_.read_timeout, kMaxLinger);
    c.pending.clear();
    Watch(c, EPOLLIN);
  }

  void Drain(Connection& c) {
    for (int i = 0; i < kReadsPerEvent; ++i) {
      ssize_t n = recv(c.fd, read_buffer_.data(), read_buffer_.size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      if (n <= 0) return Close(c);
    }
  }

  // Closes the socket now; the struct goes at the end of the loop turn,
  // when nothing refers to it any more.
  void Close(Connection& c) {
    if (c.closed) return;
    c.closed = true;
    open_.fetch_sub(1);
    close(c.fd);  // also takes it out of epoll
    closed_.push_back(c.id);
  }

  void Reap() {
    for (uint64_t id : closed_) connections_.erase(id);
    closed_.clear();
  }

  // Registers `events` (0: none) for the connection with epoll.
  void Watch(Connection& c, uint32_t events) {
    if (events == c.events) return;
    epoll_event event{events, {.u64 = c.id}};
    int op = c.events == 0 ? EPOLL_CTL_ADD
             : events == 0 ? EPOLL_CTL_DEL
                           : EPOLL_CTL_MOD;
    if (epoll_ctl(epoll_fd_, op, c.fd, &event) != 0) return Close(c);
    c.events = events;
  }

  const HttpServerOptions options_;
  const Handler& handler_;             // its MaxBody bounds each request's body
  const Poco::Net::Context::Ptr tls_;  // null for plain HTTP
  Poco::Net::ServerSocket listener_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int reserve_fd_ = -1;
  std::vector<char> read_buffer_;
  RequestIds request_ids_;
  std::unique_ptr<WorkerPool> workers_;

  // Owned by the I/O thread.
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::vector<uint64_t> closed_;
  uint64_t next_id_ = kFirstConnection;
  Clock::time_point now_ = Clock::now();
  std::thread io_;

  std::mutex answers_mu_;
  std::vector<Answer> answers_;

  std::atomic<size_t> open_{0};  // connections not closed; for metrics
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  bool stopped_ = false;
};

Status CheckOptions(const HttpServerOptions& o) {
  if (o.max_threads < 1 || o.max_connections < 1 || o.max_head < 1024 ||
      o.read_timeout.count() <= 0 || o.request_timeout.count() <= 0 ||
      o.head_timeout.count() <= 0 || o.keep_alive_timeout.count() < 0 ||
      o.backlog < 1) {
    return Status::InvalidArgument(
        "HttpServerOptions: max_threads, max_connections and backlog must "
        "be >= 1, max_head >= 1024 and timeouts positive");
  }
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return Status::InvalidArgument(
        "TLS needs both a certificate file (--tls-cert) and a key file "
        "(--tls-key)");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<HttpServer>> StartHttpServer(
    Handler& handler, const HttpServerOptions& options) {
  SYNCSTACK_RETURN_IF_ERROR(CheckOptions(options));
  Poco::Net::Context::Ptr tls;
  if (!options.tls_cert_file.empty()) {
    SYNCSTACK_ASSIGN_OR_RETURN(
        tls, http_internal::NewServerTlsContext(options.tls_cert_file,
                                                options.tls_key_file));
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
    auto server = std::make_unique<EpollHttpServer>(
        handler, options, std::move(socket), std::move(tls));
    Status started = server->Start();
    if (!started.ok()) return started.WithContext(where);
    return std::unique_ptr<HttpServer>(std::move(server));
  } catch (const Poco::Exception& e) {
    return Status::Unavailable("cannot listen on " + where + ": " +
                               e.displayText());
  } catch (const std::exception& e) {
    return Status::IOError("cannot start the HTTP server on " + where + ": " +
                           e.what());
  }
}

}  // namespace syncstack
