#include "http_tls.h"

#include <Poco/Exception.h>
#include <Poco/Net/NetSSL.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

namespace syncstack::http_internal {
namespace {

// Forward secrecy and AEAD only for TLS 1.2 (TLS 1.3's suites are all
// such). Default: OpenSSL's "HIGH" set without the anonymous ones.
constexpr const char* kTls12Ciphers =
    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL";

thread_local std::string verify_failure;

void InitializeOnce() {
  static std::once_flag once;
  // Balanced by no uninitializeSSL(): OpenSSL stays up for the process.
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

// Refuses to ask for a pass phrase: a server starts unattended, and
// OpenSSL's default would prompt on the terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

Status Unreadable(const char* flag, const std::string& file) {
  if (access(file.c_str(), R_OK) == 0) return Status::Ok();
  return Status::InvalidArgument(std::string(flag) + " " + file + ": " +
                                 std::strerror(errno));
}

// The DNS names and IP addresses a certificate is for: its
// subjectAltName entries, else its subject's common name.
std::string NamesOf(X509* cert) {
  std::string names;
  auto add = [&names](const std::string& name) {
    names += names.empty() ? "" : ", ";
    names += name;
  };
  auto* alt = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; alt != nullptr && i < sk_GENERAL_NAME_num(alt); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt, i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* dns = name->d.dNSName;
      add(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                      static_cast<size_t>(ASN1_STRING_length(dns))));
    } else if (name->type == GEN_IPADD) {
      const ASN1_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int length = ASN1_STRING_length(ip);
      if (length == 4 || length == 16) {
        inet_ntop(length == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip),
                  text, sizeof text);
        add(text);
      }
    }
  }
  GENERAL_NAMES_free(alt);
  if (!names.empty()) return names;
  char common[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName,
                                common, sizeof common) > 0) {
    return common;
  }
  return "no name";
}

// The host the verification expected (the DNS name or the IP address).
std::string ExpectedHost(X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return "?";
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (const char* host = X509_VERIFY_PARAM_get0_host(param, 0)) return host;
  std::unique_ptr<char, void (*)(void*)> ip(
      X509_VERIFY_PARAM_get1_ip_asc(param), [](void* p) { OPENSSL_free(p); });
  return ip ? std::string(ip.get()) : std::string("?");
}

// OpenSSL's verification callback: remembers the first failure of this
// thread's handshake, and fails it.
int RememberFailure(int ok, X509_STORE_CTX* store) {
  if (ok == 1) return 1;
  if (!verify_failure.empty()) return 0;
  int error = X509_STORE_CTX_get_error(store);
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if ((error == X509_V_ERR_HOSTNAME_MISMATCH ||
       error == X509_V_ERR_IP_ADDRESS_MISMATCH) &&
      cert != nullptr) {
    verify_failure = "host name mismatch: certificate is for " + NamesOf(cert) +
                     ", not " + ExpectedHost(store);
  } else {
    verify_failure = std::string("certificate verify failed: ") +
                     X509_verify_cert_error_string(error);
  }
  return 0;
}

Result<Poco::Net::Context::Ptr> NewContext(Poco::Net::Context::Usage usage,
                                           const Poco::Net::Context::Params& p,
                                           const std::string& what) {
  InitializeOnce();
  try {
    Poco::Net::Context::Ptr context = new Poco::Net::Context(usage, p);
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    SSL_CTX_set_default_passwd_cb(context->sslContext(), NoPassphrase);
    return context;
  } catch (const Poco::Exception& e) {
    TakeOpenSslErrors();
    return Status::InvalidArgument(what + ": " + e.displayText());
  }
}

}  // namespace

Result<Poco::Net::Context::Ptr> NewServerTlsContext(
    const std::string& cert_file, const std::string& key_file) {
  SYNCSTACK_RETURN_IF_ERROR(Unreadable("--tls-cert", cert_file));
  SYNCSTACK_RETURN_IF_ERROR(Unreadable("--tls-key", key_file));
  Poco::Net::Context::Params params;
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;
  params.loadDefaultCAs = false;
  params.cipherList = kTls12Ciphers;
  SYNCSTACK_ASSIGN_OR_RETURN(
      Poco::Net::Context::Ptr context,
      NewContext(Poco::Net::Context::TLS_SERVER_USE, params, "TLS"));
  // The files are loaded here rather than through Params so that each
  // failure names its file and the chain's intermediates are sent too.
  SSL_CTX* ctx = context->sslContext();
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return Status::InvalidArgument("--tls-cert " + cert_file +
                                   ": not a PEM certificate chain (" +
                                   TakeOpenSslErrors() + ")");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) !=
      1) {
    std::string why = TakeOpenSslErrors();
    if (why.find("values mismatch") != std::string::npos) {
      return Status::InvalidArgument("--tls-key " + key_file +
                                     " does not match the certificate in " +
                                     cert_file);
    }
    return Status::InvalidArgument("--tls-key " + key_file +
                                   ": not an unencrypted PEM private key (" +
                                   why + ")");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    TakeOpenSslErrors();
    return Status::InvalidArgument("--tls-key " + key_file +
                                   " does not match the certificate in " +
                                   cert_file);
  }
  // Non-blocking use: a write may be retried from a moved buffer and may
  // complete in parts; idle connections give their buffers back.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
  return context;
}

Result<Poco::Net::Context::Ptr> NewClientTlsContext(const std::string& ca_file,
                                                    const std::string& host) {
  if (!ca_file.empty()) {
    SYNCSTACK_RETURN_IF_ERROR(Unreadable("--ca-file", ca_file));
  }
  Poco::Net::Context::Params params;
  params.caLocation = ca_file;
  params.loadDefaultCAs = ca_file.empty();
  params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
  params.verificationDepth = 9;
  params.cipherList = kTls12Ciphers;
  SYNCSTACK_ASSIGN_OR_RETURN(
      Poco::Net::Context::Ptr context,
      NewContext(Poco::Net::Context::TLS_CLIENT_USE, params,
                 ca_file.empty() ? std::string("the system's trust store")
                                 : "--ca-file " + ca_file));
  SSL_CTX* ctx = context->sslContext();
  // OpenSSL checks the chain and the name in one pass, and our callback
  // keeps its reason; Poco's own name check (which skips 127.0.0.1 and
  // "localhost") is off.
  context->enableExtendedCertificateVerification(false);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, RememberFailure);
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  unsigned char address[16];
  bool is_ip = inet_pton(AF_INET, host.c_str(), address) == 1 ||
               inet_pton(AF_INET6, host.c_str(), address) == 1;
  int set = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                  : X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (set != 1) {
    TakeOpenSslErrors();
    return Status::InvalidArgument("cannot check certificates for host \"" +
                                   host + "\"");
  }
  return context;
}

void BlockSigpipeOnThisThread() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
}

std::string TakeVerifyFailure() {
  std::string out;
  out.swap(verify_failure);
  return out;
}

std::string TakeOpenSslErrors() {
  std::string out;
  while (unsigned long error = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(error);
    out += out.empty() ? "" : "; ";
    out += reason != nullptr ? reason : "error " + std::to_string(error);
  }
  return out;
}

}  // namespace syncstack::http_internal
