// serve --web / --cors-origin: static files cannot leave their folder (by
// "..", encoded or not, by a symbolic link, by an absolute path), unknown
// types and oversized files are 404, the API is untouched, and CORS
// headers go to listed origins only.
#include "syncstack/http/web_handler.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "http/raw_http.h"
#include "syncstack/http/http_transport.h"

namespace syncstack {
namespace {

namespace fs = std::filesystem;

// Answers every request with 200 and the path it got, like the API would.
class EchoApi final : public Handler {
 public:
  Response Handle(const Request& request) noexcept override {
    Response r;
    r.body = R"({"api":")" + request.path + R"("})";
    return r;
  }
};

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

class WebHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("syncstack_web_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    app_ = base_ / "app";
    Write(app_ / "index.html", "<!doctype html><title>todo</title>");
    Write(app_ / "app.js", "export const x = 1;");
    Write(app_ / "css" / "style.css", "body{}");
    Write(app_ / "manifest.webmanifest", "{}");
    Write(app_ / "icon.svg", "<svg/>");
    Write(app_ / "data.json", "[1]");
    Write(app_ / ".secret.js", "hidden");
    Write(app_ / "tool.exe", "MZ");
    Write(app_ / "big.js", std::string(4096, 'x'));
    Write(base_ / "outside.json", R"({"secret":1})");
    fs::create_symlink(base_ / "outside.json", app_ / "link.json");
    fs::create_directory_symlink(base_, app_ / "up");
    mkfifo((app_ / "pipe.js").c_str(), 0600);
  }
  void TearDown() override { fs::remove_all(base_); }

  std::unique_ptr<Handler> Make(std::vector<std::string> origins = {}) {
    WebHandlerOptions options;
    options.dir = app_.string();
    options.cors_origins = std::move(origins);
    options.max_file = 1024;
    auto made = NewWebHandler(api_, options);
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    return made.ok() ? std::move(made).value() : nullptr;
  }

  static Request Get(std::string path, std::string origin = "") {
    Request r;
    r.method = "GET";
    r.path = std::move(path);
    r.origin = std::move(origin);
    return r;
  }

  fs::path base_, app_;
  EchoApi api_;
};

TEST_F(WebHandlerTest, ServesFilesWithTheirContentType) {
  auto web = Make();
  struct Case {
    const char* path;
    const char* type;
    const char* body;
  } cases[] = {
      {"/", "text/html; charset=utf-8", "<!doctype html><title>todo</title>"},
      {"/index.html", "text/html; charset=utf-8", nullptr},
      {"/app.js", "text/javascript; charset=utf-8", "export const x = 1;"},
      {"/css/style.css", "text/css; charset=utf-8", "body{}"},
      {"/manifest.webmanifest", "application/manifest+json", "{}"},
      {"/icon.svg", "image/svg+xml", "<svg/>"},
      {"/data.json", "application/json", "[1]"},
  };
  for (const auto& c : cases) {
    Response r = web->Handle(Get(c.path));
    EXPECT_EQ(r.status, 200) << c.path;
    EXPECT_EQ(r.content_type, c.type) << c.path;
    if (c.body != nullptr) {
      EXPECT_EQ(r.body, c.body) << c.path;
    }
    EXPECT_NE(r.headers.find("X-Content-Type-Options: nosniff"),
              std::string::npos);
  }
}

TEST_F(WebHandlerTest, NothingOutsideTheFolderNorHiddenNorUnknown) {
  auto web = Make();
  for (const char* path :
       {"/../outside.json", "/css/../../outside.json", "/./app.js", "//app.js",
        "/css//style.css", "/up/outside.json", "/link.json", "/.secret.js",
        "/tool.exe", "/big.js", "/pipe.js", "/missing.js", "/css", "/css/",
        "/app.js/", "/..\\outside.json", "/app.js%00", "relative.js", ""}) {
    Response r = web->Handle(Get(path));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body.find("secret"), std::string::npos) << path;
    EXPECT_NE(r.body.find("not_found"), std::string::npos) << path;
  }
  std::string with_nul = "/app.js";
  with_nul += '\0';
  with_nul += ".html";
  EXPECT_EQ(web->Handle(Get(with_nul)).status, 404);
}

TEST_F(WebHandlerTest, ApiPathsAndOtherMethodsGoToTheApi) {
  auto web = Make();
  Response r = web->Handle(Get("/v1/fetch.json"));
  EXPECT_EQ(r.body, R"({"api":"/v1/fetch.json"})");
  Request post = Get("/index.html");
  post.method = "POST";
  EXPECT_EQ(web->Handle(post).body, R"({"api":"/index.html"})");
  Request options = Get("/v1/lock");
  options.method = "OPTIONS";  // CORS off: the API answers (its 404)
  EXPECT_EQ(web->Handle(options).body, R"({"api":"/v1/lock"})");
}

TEST_F(WebHandlerTest, CorsOnlyForListedOrigins) {
  auto web = Make({"http://localhost:8080"});
  Response ok = web->Handle(Get("/v1/fetch.json", "http://localhost:8080"));
  EXPECT_NE(
      ok.headers.find("Access-Control-Allow-Origin: http://localhost:8080\r\n"),
      std::string::npos);
  EXPECT_NE(ok.headers.find("Vary: Origin"), std::string::npos);
  Response other = web->Handle(Get("/v1/fetch.json", "http://evil.example"));
  EXPECT_EQ(other.headers.find("Access-Control-Allow"), std::string::npos);
  EXPECT_EQ(other.body, R"({"api":"/v1/fetch.json"})");

  Request preflight = Get("/v1/synchronise.json", "http://localhost:8080");
  preflight.method = "OPTIONS";
  Response p = web->Handle(preflight);
  EXPECT_EQ(p.status, 204);
  EXPECT_NE(p.headers.find("Access-Control-Allow-Headers: Authorization, "
                           "Content-Type, X-Sync-Lease"),
            std::string::npos);
  EXPECT_NE(p.headers.find("Access-Control-Allow-Methods: GET, POST, DELETE"),
            std::string::npos);
  preflight.origin = "http://localhost:8081";
  Response refused = web->Handle(preflight);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.headers.find("Access-Control-Allow"), std::string::npos);
  EXPECT_NE(refused.body.find("forbidden"), std::string::npos);
}

TEST(WebHandlerOptionsTest, BadOriginsAndFoldersAreRefused) {
  EchoApi api;
  for (const char* origin :
       {"*", "localhost:8080", "http://localhost:8080/", "http://Host",
        "ftp://x", "http://", "http://x:0", "http://x:65536", "http://x:8a",
        "http://x/path", "null"}) {
    WebHandlerOptions options;
    options.cors_origins = {origin};
    auto made = NewWebHandler(api, options);
    EXPECT_FALSE(made.ok()) << origin;
    EXPECT_EQ(made.status().code(), Status::Code::kInvalidArgument);
  }
  for (const char* origin : {"http://localhost:8080", "https://app.example.com",
                             "http://127.0.0.1", "http://[::1]:3000"}) {
    EXPECT_TRUE(IsWebOrigin(origin)) << origin;
  }
  WebHandlerOptions options;
  options.dir = "/nonexistent/syncstack/web";
  auto made = NewWebHandler(api, options);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("not a readable folder"),
            std::string::npos);
}

// Over a real socket: the server percent-decodes the path, so encoded dots
// and slashes must not escape either; headers reach the wire.
TEST_F(WebHandlerTest, OverHttp) {
  auto web = Make({"http://localhost:8080"});
  auto server = StartHttpServer(*web, HttpServerOptions{});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const uint16_t port = (*server)->port();
  RawResponse page = RawExchange(
      port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(page.headers["cache-control"], "no-cache");
  for (const char* target :
       {"/%2e%2e/outside.json", "/..%2foutside.json", "/%2E%2E%2Foutside.json",
        "/css/..%2F..%2Foutside.json", "/up%2Foutside.json",
        "/../outside.json"}) {
    RawResponse r = RawExchange(port, std::string("GET ") + target +
                                          " HTTP/1.1\r\nHost: x\r\n"
                                          "Connection: close\r\n\r\n");
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.body.find("secret"), std::string::npos) << target;
  }
  RawResponse preflight = RawExchange(
      port,
      "OPTIONS /v1/lock HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:8080"
      "\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.headers["access-control-allow-origin"],
            "http://localhost:8080");
  (*server)->Stop();
}

}  // namespace
}  // namespace syncstack
