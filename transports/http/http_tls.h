// TLS for the HTTP transport: Poco::Net::Context (NetSSL, OpenSSL) set up
// for the server (a certificate chain and its key) and for the client (a
// trust store and the host name to check). Internal to syncstack::http.
// Why the server drives OpenSSL itself: docs/decisions/tls.md.
#pragma once

#include <Poco/Net/Context.h>

#include <string>

#include "syncstack/status.h"

namespace syncstack::http_internal {

// A server context from PEM files: `cert_file` holds the server's
// certificate followed by any intermediates, `key_file` its private key.
// TLS 1.2 and later; the client is not asked for a certificate; SSL
// objects made from it are meant for non-blocking sockets.
// Errors: kInvalidArgument naming the file and the reason (missing,
// unreadable, not PEM, or a key that does not match the certificate).
Result<Poco::Net::Context::Ptr> NewServerTlsContext(
    const std::string& cert_file, const std::string& key_file);

// A client context that verifies the server's chain against `ca_file`
// (PEM; "" for the system's trust store) and checks that the certificate
// names `host` (a DNS name or an IP address). A failed check fails the
// handshake; TakeVerifyFailure() then tells why.
// Errors: kInvalidArgument (an unreadable or empty `ca_file`).
Result<Poco::Net::Context::Ptr> NewClientTlsContext(const std::string& ca_file,
                                                    const std::string& host);

// Why the last handshake on this thread was refused by the certificate
// check, as one line ("certificate verify failed: certificate has expired",
// "host name mismatch: certificate is for a.example, not 127.0.0.1"); ""
// when it was not. Clears it.
std::string TakeVerifyFailure();

// Blocks SIGPIPE on this thread for good: OpenSSL writes to its socket
// with write(2), which raises SIGPIPE when the peer is gone (Poco's Net
// library blocks it at load in the main thread; threads of our own that
// write through OpenSSL, the server's I/O thread, do not rely on that).
void BlockSigpipeOnThisThread();

// The reasons in OpenSSL's error queue of this thread, "; "-separated (""
// when it is empty). Clears the queue.
std::string TakeOpenSslErrors();

}  // namespace syncstack::http_internal
