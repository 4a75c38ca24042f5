// The HTTP client Transport: Poco HTTPClientSessions with keep-alive, kept
// in a small pool so that concurrent calls each have their own connection
// and sequential calls reuse one.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>

#include <charconv>
#include <mutex>
#include <thread>
#include <vector>

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

class ClientSession final : public Poco::Net::HTTPClientSession {
 public:
  using HTTPClientSession::HTTPClientSession;

  void Connect() { reconnect(); }

  // Whether an idle connection was closed (or spoke out of turn) since its
  // last answer: a readable idle socket holds an EOF, a reset or junk.
  bool Stale() {
    try {
      return socket().poll(
          Poco::Timespan(0),
          Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR);
    } catch (...) {
      return true;
    }
  }

  Clock::time_point idle_since;

 protected:
  // Reuse is decided by the pool (Stale(), kMaxIdle), not by Poco's timer.
  bool mustReconnect() const override { return false; }
};

enum class Phase { kConnect, kSend, kReceive };

class HttpTransport final : public Transport {
 public:
  HttpTransport(const HttpClientOptions& options,
                http_internal::Endpoint endpoint)
      : options_(options),
        endpoint_(std::move(endpoint)),
        host_port_(endpoint_.HostPort()) {}

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
      const bool reused = session->connected();
      Phase phase = Phase::kConnect;
      Status failure;
      try {
        bool reusable = false;
        Response response =
            Exchange(*session, request, target, phase, reusable);
        if (reusable) Release(std::move(session));
        return response;
      } catch (const Poco::Exception& e) {
        failure = Describe(phase, e.name(), e.message());
      } catch (const std::ios_base::failure& e) {
        failure = Describe(phase, "I/O error", e.what());
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

  Response Exchange(ClientSession& session, const Request& request,
                    const std::string& target, Phase& phase, bool& reusable) {
    if (!session.connected()) session.Connect();
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
    return ReadAnswer(session, request.method == "HEAD", &reusable);
  }

  // Reads one whole answer. `*reusable`: whether the connection may carry
  // the next request.
  Response ReadAnswer(ClientSession& session, bool head, bool* reusable) {
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
    } else {
      if (!http.getChunkedTransferEncoding() && reusable != nullptr) {
        *reusable = false;  // the body ends where the connection does
      }
      ReadAll(in, response.body);
    }
    return response;
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

  Result<Response> ReadEarlyAnswer(ClientSession& session) {
    try {
      if (!session.connected()) return Status::Unavailable("closed");
      Response response = ReadAnswer(session, false, nullptr);
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
            session->connected() && !session->Stale()) {
          return session;
        }
        // Stale: dropped (closed by its destructor).
      }
    }
    auto session =
        std::make_unique<ClientSession>(endpoint_.host, endpoint_.port);
    session->setKeepAlive(true);
    session->setTimeout(ToTimespan(options_.connect_timeout),
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
  return std::unique_ptr<Transport>(
      std::make_unique<HttpTransport>(options, std::move(*endpoint)));
}

}  // namespace syncstack
