// The HTTP client Transport: Poco HTTPClientSessions (HTTPSClientSessions
// for https://) with keep-alive, kept in a small pool so that concurrent
// calls each have their own connection and sequential calls reuse one.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/StreamSocket.h>

#include <charconv>
#include <mutex>
#include <thread>
#include <vector>

#include "http_chunked.h"
#include "http_tls.h"
#include "http_util.h"
#include "syncstack/http/http_transport.h"

namespace syncstack {
namespace {

using Clock = std::chrono::steady_clock;

Poco::Timespan ToTimespan(std::chrono::milliseconds ms) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) *
                        1000);
}

// Idle connections older than this are not reused: the server (10 s by
// default) may be closing them right now.
constexpr auto kMaxIdle = std::chrono::seconds(5);

// A pooled connection: a Poco HTTP or HTTPS session seen through its
// HTTPClientSession base.
class ClientSession {
 public:
  virtual ~ClientSession() = default;
  virtual Poco::Net::HTTPClientSession& http() = 0;
  // Opens the connection (with TLS: and completes the handshake).
  virtual void Connect() = 0;
  // Whether an idle connection was closed (or spoke out of turn) since its
  // last answer: a readable idle socket holds an EOF, a reset or junk.
  virtual bool Stale() = 0;
  // Reads the connection's bytes after an answer's head (what the session
  // buffered first): > 0 bytes, 0 at the end. Throws as Poco does.
  virtual int ReadRaw(char* buffer, size_t length) = 0;

  Clock::time_point idle_since;
};

template <typename Base>
class PocoSession final : public Base, public ClientSession {
 public:
  using Base::Base;

  Poco::Net::HTTPClientSession& http() override { return *this; }
  void Connect() override { this->reconnect(); }
  bool Stale() override {
    try {
      return this->socket().poll(
          Poco::Timespan(0),
          Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR);
    } catch (...) {
      return true;
    }
  }
  int ReadRaw(char* buffer, size_t length) override {
    return this->read(buffer, static_cast<std::streamsize>(length));
  }

 protected:
  // Reuse is decided by the pool (Stale(), kMaxIdle), not by Poco's timer.
  bool mustReconnect() const override { return false; }
};

enum class Phase { kConnect, kSend, kReceive };

class HttpTransport final : public Transport {
 public:
  HttpTransport(const HttpClientOptions& options,
                http_internal::Endpoint endpoint, Poco::Net::Context::Ptr tls)
      : options_(options),
        endpoint_(std::move(endpoint)),
        host_port_(endpoint_.HostPort()),
        tls_(std::move(tls)) {}

  Result<Response> Call(const Request& request) noexcept override {
    try {
      return CallWithRetries(request);
    } catch (const std::bad_alloc&) {
      return Status::IOError("out of memory calling " + host_port_);
    } catch (const std::exception& e) {
      return Status::IOError("HTTP call to " + host_port_ +
                             " failed: " + e.what());
    } catch (...) {
      return Status::IOError("HTTP call to " + host_port_ + " failed");
    }
  }

 private:
  Result<Response> CallWithRetries(const Request& request) {
    const bool safe = http_internal::SafeToRepeat(request);
    const std::string target = http_internal::RequestTarget(request);
    bool stale_retry_used = false;
    auto backoff = options_.retry_backoff;
    for (int attempt = 0;;) {
      std::unique_ptr<ClientSession> session = Acquire();
      const bool reused = session->http().connected();
      Phase phase = Phase::kConnect;
      Status failure;
      try {
        bool reusable = false;
        Response response =
            Exchange(*session, request, target, phase, reusable);
        if (reusable) Release(std::move(session));
        return response;
      } catch (const Poco::Net::SSLException& e) {
        // A new connection's handshake failed: not transient (a server
        // that speaks plain HTTP, no common protocol); no retry.
        if (!reused) return HandshakeFailure(e.message());
        failure = Describe(phase, e.name(), e.message());
      } catch (const Poco::Exception& e) {
        failure = Describe(phase, e.name(), e.message());
      } catch (const std::ios_base::failure& e) {
        failure = Describe(phase, "I/O error", e.what());
      }
      // A refused certificate is not transient: no retry.
      if (std::string refused = http_internal::TakeVerifyFailure();
          !refused.empty()) {
        return Status::IOError(host_port_ + ": " + refused);
      }
      if (phase == Phase::kSend) {
        // The server may have answered early (e.g. 413) and closed.
        if (auto early = ReadEarlyAnswer(*session); early.ok()) return early;
        // A reused connection that died before the request got through:
        // nothing can have been applied, so any request goes once more.
        if (reused && !stale_retry_used) {
          stale_retry_used = true;
          continue;
        }
      }
      if (!safe || attempt >= options_.max_retries) return failure;
      ++attempt;
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
  }

  // One line for a failed handshake: the certificate's refusal when that
  // was the cause, else OpenSSL's reason.
  Status HandshakeFailure(const std::string& message) const {
    if (std::string refused = http_internal::TakeVerifyFailure();
        !refused.empty()) {
      return Status::IOError(host_port_ + ": " + refused);
    }
    std::string reason = message;
    if (size_t colon = reason.rfind(':'); colon != std::string::npos) {
      reason = reason.substr(colon + 1);  // "error:0A000126:SSL routines::x"
    }
    return Status::IOError(host_port_ + ": TLS handshake failed: " + reason +
                           " (does the server speak https?)");
  }

  Status Describe(Phase phase, const std::string& name,
                  const std::string& message) const {
    std::string what = name;
    if (!message.empty() && message != host_port_ &&
        message != endpoint_.host + ":" + std::to_string(endpoint_.port)) {
      what += ": " + message;
    }
    switch (phase) {
      case Phase::kConnect:
        return Status::Unavailable("cannot reach " + host_port_ + ": " + what);
      case Phase::kSend:
        return Status::Unavailable("sending to " + host_port_ + " failed: " +
                                   what + " (the request was not applied)");
      case Phase::kReceive:
        break;
    }
    return Status::Unavailable("no answer from " + host_port_ + ": " + what +
                               " (the request may or may not have been "
                               "applied)");
  }

  Response Exchange(ClientSession& pooled, const Request& request,
                    const std::string& target, Phase& phase, bool& reusable) {
    if (!pooled.http().connected()) {
      http_internal::TakeVerifyFailure();  // only this handshake's counts
      pooled.Connect();
    }
    Poco::Net::HTTPClientSession& session = pooled.http();
    phase = Phase::kSend;
    Poco::Net::HTTPRequest http(request.method, target,
                                Poco::Net::HTTPMessage::HTTP_1_1);
    http.setKeepAlive(true);
    if (!request.token.empty()) {
      http.set("Authorization", "Bearer " + request.token);
    }
    if (!request.lease.empty()) http.set("X-Sync-Lease", request.lease);
    if (!request.idempotency_key.empty()) {
      http.set("Idempotency-Key", request.idempotency_key);
    }
    if (!request.body.empty()) {
      http.setContentType(request.content_type.empty()
                              ? std::string("application/json")
                              : request.content_type);
      http.setContentLength64(static_cast<Poco::Int64>(request.body.size()));
    } else if (request.method != "GET" && request.method != "HEAD" &&
               request.method != "DELETE") {
      http.setContentLength(0);
    }
    std::ostream& out = session.sendRequest(http);
    out.exceptions(std::ios::badbit);
    out.write(request.body.data(),
              static_cast<std::streamsize>(request.body.size()));
    out.flush();

    phase = Phase::kReceive;
    return ReadAnswer(pooled, request.method == "HEAD", &reusable);
  }

  // Reads one whole answer. `*reusable`: whether the connection may carry
  // the next request.
  Response ReadAnswer(ClientSession& pooled, bool head, bool* reusable) {
    Poco::Net::HTTPClientSession& session = pooled.http();
    Poco::Net::HTTPResponse http;
    std::istream& in = session.receiveResponse(http);
    in.exceptions(std::ios::badbit);
    if (reusable != nullptr) *reusable = http.getKeepAlive();
    Response response;
    response.status = static_cast<int>(http.getStatus());
    response.content_type = http.get("Content-Type", "");
    const std::string retry_after = http.get("Retry-After", "");
    if (!retry_after.empty()) {
      int64_t seconds = -1;
      auto [ptr, ec] = std::from_chars(
          retry_after.data(), retry_after.data() + retry_after.size(), seconds);
      if (ec == std::errc() && ptr == retry_after.data() + retry_after.size() &&
          seconds >= 0) {
        response.retry_after = seconds;
      }
    }
    if (head || response.status == 204 || response.status == 304) {
      return response;
    }
    if (http.hasContentLength()) {
      Poco::Int64 length = http.getContentLength64();
      if (length > 0) response.body.reserve(static_cast<size_t>(length));
      ReadAll(in, response.body);
      if (static_cast<Poco::Int64>(response.body.size()) != length) {
        throw Poco::Net::MessageException(
            "answer shorter than its Content-Length");
      }
    } else if (http.getChunkedTransferEncoding()) {
      ReadChunked(pooled, response.body);
    } else {
      if (reusable != nullptr) {
        *reusable = false;  // the body ends where the connection does
      }
      ReadAll(in, response.body);
    }
    return response;
  }

  // Reads a chunked body (a streamed answer such as fetch.json) from the
  // connection itself rather than through Poco's chunked stream, which
  // ends quietly where the connection does: a body whose last chunk never
  // came is a lost answer here, never a shorter one.
  static void ReadChunked(ClientSession& pooled, std::string& out) {
    http_internal::ChunkedDecoder decoder;
    std::vector<char> buffer(64 << 10);
    while (!decoder.done()) {
      int n = pooled.ReadRaw(buffer.data(), buffer.size());
      if (n <= 0) break;
      std::string_view bytes(buffer.data(), static_cast<size_t>(n));
      if (decoder.Feed(bytes, out) < bytes.size() && !decoder.done()) break;
    }
    Status finished = decoder.Finish();
    if (!finished.ok()) {
      throw Poco::Net::MessageException(finished.message());
    }
  }

  static void ReadAll(std::istream& in, std::string& out) {
    char buffer[64 << 10];
    while (in) {
      in.read(buffer, sizeof buffer);
      auto n = static_cast<size_t>(in.gcount());
      if (n == 0) break;
      out.append(buffer, n);
    }
  }

  Result<Response> ReadEarlyAnswer(ClientSession& pooled) {
    try {
      if (!pooled.http().connected()) return Status::Unavailable("closed");
      Response response = ReadAnswer(pooled, false, nullptr);
      return response;
    } catch (...) {
      return Status::Unavailable("no early answer");
    }
  }

  std::unique_ptr<ClientSession> Acquire() {
    {
      std::lock_guard lock(mu_);
      while (!idle_.empty()) {
        std::unique_ptr<ClientSession> session = std::move(idle_.back());
        idle_.pop_back();
        if (Clock::now() - session->idle_since < kMaxIdle &&
            session->http().connected() && !session->Stale()) {
          return session;
        }
        // Stale: dropped (closed by its destructor).
      }
    }
    std::unique_ptr<ClientSession> session;
    if (tls_) {
      session = std::make_unique<PocoSession<Poco::Net::HTTPSClientSession>>(
          endpoint_.host, endpoint_.port, tls_);
    } else {
      session = std::make_unique<PocoSession<Poco::Net::HTTPClientSession>>(
          endpoint_.host, endpoint_.port);
    }
    Poco::Net::HTTPClientSession& http = session->http();
    http.setKeepAlive(true);
    http.setTimeout(ToTimespan(options_.connect_timeout),
                    ToTimespan(options_.read_timeout),
                    ToTimespan(options_.read_timeout));
    return session;
  }

  void Release(std::unique_ptr<ClientSession> session) {
    session->idle_since = Clock::now();
    std::lock_guard lock(mu_);
    if (static_cast<int>(idle_.size()) < options_.max_idle_connections) {
      idle_.push_back(std::move(session));
    }
  }

  HttpClientOptions options_;
  http_internal::Endpoint endpoint_;
  std::string host_port_;
  Poco::Net::Context::Ptr tls_;  // null for http://
  std::mutex mu_;
  std::vector<std::unique_ptr<ClientSession>> idle_;
};

}  // namespace

Result<std::unique_ptr<Transport>> NewHttpTransport(
    const HttpClientOptions& options) {
  auto endpoint = http_internal::ParseHttpUrl(options.url);
  if (!endpoint.ok()) return endpoint.status();
  if (options.max_retries < 0 || options.connect_timeout.count() <= 0 ||
      options.read_timeout.count() <= 0) {
    return Status::InvalidArgument(
        "HttpClientOptions: max_retries must be >= 0 and timeouts positive");
  }
  Poco::Net::Context::Ptr tls;
  if (endpoint->tls) {
    SYNCSTACK_ASSIGN_OR_RETURN(tls, http_internal::NewClientTlsContext(
                                        options.ca_file, endpoint->host));
  } else if (!options.ca_file.empty()) {
    return Status::InvalidArgument("a CA file is for https:// servers only");
  }
  return std::unique_ptr<Transport>(std::make_unique<HttpTransport>(
      options, std::move(*endpoint), std::move(tls)));
}

}  // namespace syncstack
