// The HTTP transport of PROTOCOL.md: a server that puts a Handler (the
// SyncService) on a TCP port, and a client Transport that talks to it.
// The bytes in a Request/Response are the HTTP bodies unchanged; headers
// carry the token (Authorization: Bearer), the lease (X-Sync-Lease), the
// idempotency key (Idempotency-Key), Retry-After and the request's name
// (X-Request-Id: kept from the request when sane, else made by the server;
// every answer of the server carries it).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "syncstack/status.h"
#include "syncstack/transport.h"

namespace syncstack {

struct HttpServerOptions {
  // Address to bind; only this address is listened on. Default: 127.0.0.1.
  std::string host = "127.0.0.1";
  // TCP port; 0 picks a free one (see HttpServer::port()). Default: 0.
  uint16_t port = 0;
  // Largest request body, enforced while reading: a larger Content-Length
  // or chunked body is answered 413 `too_large`, and no more than this
  // (plus one read buffer) is ever held. Default: 64 MiB.
  size_t max_body = 64u << 20;
  // Largest request head (request line and header fields); a larger one
  // is answered 400. Default: 64 KiB.
  size_t max_head = 64u << 10;
  // Longest wait for the next bytes of a request (or for the client to take
  // the answer) before the connection is dropped. Default: 30 s.
  std::chrono::milliseconds read_timeout{30000};
  // Longest the request head may take to arrive, counted from the accept
  // (first request) or from its first byte (later requests on a kept-alive
  // connection); the connection is dropped beyond, unanswered. A new
  // connection that sends nothing is dropped after it too. Default: 10 s.
  std::chrono::milliseconds head_timeout{10000};
  // Longest a whole request (head and body) may take to arrive, however
  // it trickles in; the connection is dropped beyond. Default: 5 min.
  std::chrono::milliseconds request_timeout{300000};
  // How long an idle keep-alive connection is kept open between requests.
  // Default: 10 s.
  std::chrono::milliseconds keep_alive_timeout{10000};
  // Worker threads that call the handler with complete requests. Reading
  // and writing connections needs no worker: one I/O thread does it for
  // all of them, so idle and slow clients hold no thread. Default: 16.
  int max_threads = 16;
  // Connections open at once (idle, reading, waiting or being answered).
  // At the limit a new connection closes the keep-alive connection idle
  // longest; when none is idle, it gets a 503 `unavailable`
  // (Retry-After: 1) and is closed. Each needs a file descriptor: raise
  // RLIMIT_NOFILE to match. Default: 10000.
  size_t max_connections = 10000;
  // Reverse proxies (numeric addresses, as the server sees them, e.g.
  // "127.0.0.1") whose X-Forwarded-For names the client: the client's
  // address (Request::peer, which login throttling counts failures by) is
  // then the right-most address of that header not itself listed here.
  // From anyone else the header is ignored. Default: none.
  std::vector<std::string> trusted_proxies{};
  // Listen backlog of the socket. Default: 1024.
  int backlog = 1024;
  // TLS (HTTPS) when both are set: a PEM file with the server's
  // certificate followed by any intermediate certificates, and a PEM file
  // with its unencrypted private key. The handshake runs on the I/O thread
  // under `head_timeout` like the request head; a plain-HTTP request on
  // this port gets a 400 naming https://. Default: "" (plain HTTP).
  std::string tls_cert_file;
  std::string tls_key_file;
};

// A running HTTP server. Stop() (or destruction) stops accepting, closes
// every connection and waits until no request is being handled.
// Requests on one connection are answered in order, one at a time.
// Thread safety: all methods may be called concurrently.
class HttpServer {
 public:
  HttpServer() = default;
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  virtual ~HttpServer();

  // The port listened on (the one picked when options.port was 0).
  virtual uint16_t port() const = 0;
  // The connections open now (idle, reading, being answered or closing),
  // e.g. for a gauge of active connections.
  virtual size_t open_connections() const = 0;
  // Stops the server; idempotent. The handler is not called after it
  // returns.
  virtual void Stop() = 0;
};

// Starts serving `handler` over HTTP (HTTPS with options.tls_cert_file);
// the server is listening when this returns. `handler` must outlive the
// server.
// Errors: kInvalidArgument (bad host or options; a TLS file that is
// missing, unreadable or not PEM, or a key that does not match the
// certificate: nothing is listened on), kUnavailable (the address cannot
// be bound, e.g. the port is taken), kIOError.
Result<std::unique_ptr<HttpServer>> StartHttpServer(
    Handler& handler, const HttpServerOptions& options);

struct HttpClientOptions {
  // The server, "http://HOST[:PORT]" or "https://HOST[:PORT]" (a trailing
  // "/" is allowed; the port defaults to 80 and 443).
  std::string url;
  // https:// only: a PEM file of the certificate authorities to trust
  // instead of the system's trust store. Either way the server's chain is
  // verified and its certificate must name the URL's host.
  // Default: "" (the system's trust store).
  std::string ca_file;
  // Longest wait to establish a connection. Default: 5 s.
  std::chrono::milliseconds connect_timeout{5000};
  // Longest wait for the next bytes of the answer. Default: 60 s.
  std::chrono::milliseconds read_timeout{60000};
  // Extra attempts after a connection failure or lost answer, for calls
  // that are safe to repeat only: GET, POST/DELETE /v1/lock, POST /v1/login,
  // and POST /v1/synchronise.json with an idempotency key. An HTTP status
  // answer is never retried. Default: 3.
  int max_retries = 3;
  // Wait before the first retry; doubled for each further one.
  // Default: 200 ms.
  std::chrono::milliseconds retry_backoff{200};
  // Idle keep-alive connections kept for reuse. Default: 16.
  int max_idle_connections = 16;
};

// A Transport over HTTP/1.1 (or HTTPS) with keep-alive connections, reused
// across calls; Call may be called concurrently (one connection per call
// in flight). Call errors: kUnavailable (cannot connect, timed out, or the
// answer was lost; the message names host:port), kTooLarge, kIOError
// (among others: the server's certificate was refused; the message is one
// line naming the reason, e.g. "certificate verify failed: certificate has
// expired"; never retried).
// Errors of this factory: kInvalidArgument (a URL that is not
// http[s]://HOST[:PORT]; an unreadable `ca_file`, or one with http://).
Result<std::unique_ptr<Transport>> NewHttpTransport(
    const HttpClientOptions& options);

}  // namespace syncstack
