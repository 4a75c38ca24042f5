// The file transport and the exchange processor: syncs carried out over
// several runs (hand-carry), damaged and hostile files, replayed requests.
// (The Transport contract itself is in tests/interfaces.)
#include "syncstack/file/file_transport.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/world.h"
#include "syncstack/conformance/transport_conformance.h"
#include "syncstack/protocol.h"

namespace syncstack::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::vector<std::string> Names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A server answering an exchange folder (by hand: ProcessPending), and
// devices reaching it only through that folder.
class Exchange : public ::testing::Test {
 protected:
  Exchange() : world_(StoreKind::kMemory) {}

  void SetUp() override {
    exchange_ = (dir_.path() / "exchange").string();
    ExchangeOptions options;
    options.dir = exchange_;
    options.log = [this](const std::string& line) { log_.push_back(line); };
    auto p = NewExchangeProcessor(world_.service(), options);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    processor_ = std::move(p).value();
  }

  // A device whose transport does not wait: every run ends at the first
  // request without an answer, as when the folder is carried by hand.
  Device& AddDevice(const std::string& name) {
    FileTransportOptions options;
    options.dir = exchange_;
    options.client = name;
    options.wait = std::chrono::milliseconds(0);
    auto t = NewFileTransport(options);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    transports_.push_back(std::move(t).value());
    return world_.AddDevice(name, "alice", transports_.back().get());
  }

  // Runs `d`'s sync again and again, letting the server answer between
  // runs, until a run completes; returns the number of runs.
  int SyncByHand(Device& d, int max_runs = 30) {
    for (int run = 1; run <= max_runs; ++run) {
      auto r = d.Sync();
      if (r.ok()) return run;
      EXPECT_EQ(r.status().code(), Status::Code::kUnavailable)
          << r.status().ToString();
      auto n = processor_->ProcessPending();
      EXPECT_TRUE(n.ok()) << n.status().ToString();
      EXPECT_EQ(*n, 1u) << "one request per run";
      BeforeNextRun();
    }
    ADD_FAILURE() << d.name << " did not finish in " << max_runs << " runs";
    return max_runs;
  }

  virtual void BeforeNextRun() {}

  fs::path sub(const char* name) const { return fs::path(exchange_) / name; }

  TempDir dir_;
  World world_;
  std::string exchange_;
  std::unique_ptr<ExchangeProcessor> processor_;
  std::vector<std::unique_ptr<Transport>> transports_;
  std::vector<std::string> log_;
};

TEST_F(Exchange, TwoDevicesSyncThroughTheFolderOverSeveralRuns) {
  Device& phone = AddDevice("phone");
  Device& laptop = AddDevice("laptop");
  std::vector<RecordId> ids;
  for (int i = 0; i < 30; ++i) {
    ids.push_back(RecordId::Random());
    ASSERT_OK(
        phone.Put("todo", ids.back(), "{\"n\":" + std::to_string(i) + "}"));
  }
  // login, lock, fetch, synchronise, release: a run for each answer.
  int runs = SyncByHand(phone);
  EXPECT_GE(runs, 5);
  EXPECT_EQ(DumpLive(world_.ServerStore()), DumpLive(*phone.store));
  EXPECT_EQ(DumpLive(world_.ServerStore()).size(), 30u);

  // The release is in the folder; the server takes it on its next pass.
  ASSERT_TRUE(processor_->ProcessPending().ok());
  SyncByHand(laptop);
  EXPECT_EQ(DumpLive(*laptop.store), DumpLive(*phone.store));

  // Both edit offline, both sync, the phone once more: all equal.
  world_.clock().Advance(10);
  ASSERT_OK(phone.Put("todo", ids[0], R"({"n":"phone"})"));
  ASSERT_OK(laptop.Remove("todo", ids[1]));
  world_.clock().Advance(10);
  ASSERT_OK(laptop.Put("todo", ids[2], R"({"n":"laptop"})"));
  ASSERT_TRUE(processor_->ProcessPending().ok());
  SyncByHand(phone);
  ASSERT_TRUE(processor_->ProcessPending().ok());
  SyncByHand(laptop);
  ASSERT_TRUE(processor_->ProcessPending().ok());
  SyncByHand(phone);
  ASSERT_TRUE(processor_->ProcessPending().ok());
  Dump server = DumpLive(world_.ServerStore());
  EXPECT_EQ(DumpLive(*phone.store), server);
  EXPECT_EQ(DumpLive(*laptop.store), server);
  EXPECT_EQ(server.size(), 29u);
  EXPECT_EQ(server.at({"todo", ids[0]}).first, R"({"n":"phone"})");
  EXPECT_EQ(server.at({"todo", ids[2]}).first, R"({"n":"laptop"})");
  // Sessions clean up after themselves: what is left is the answer to the
  // last release of each device (removed when its next session ends).
  auto left = Names(sub("answers"));
  EXPECT_LE(left.size(), 2u);
  for (const auto& name : left) {
    EXPECT_EQ(ReadFile(sub("answers") / name).substr(0, 13), "HTTP/1.1 204 ")
        << name;
  }
  EXPECT_TRUE(Names(sub("requests")).empty());
  EXPECT_TRUE(Names(sub("rejected")).empty());
}

TEST_F(Exchange, AWaitingClientGetsItsAnswerInOneRun) {
  FileTransportOptions options;
  options.dir = exchange_;
  options.client = "online";
  options.poll = std::chrono::milliseconds(1);
  auto t = NewFileTransport(options);
  ASSERT_TRUE(t.ok());
  Device& d = world_.AddDevice("online", "alice", t->get());
  ASSERT_OK(d.Put("todo", RecordId::Random(), "{}"));
  std::atomic<bool> stop{false};
  std::thread server([&] {
    while (!stop) {
      ASSERT_TRUE(processor_->ProcessPending().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  auto r = d.Sync();
  stop = true;
  server.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(DumpLive(world_.ServerStore()).size(), 1u);
}

// A synchronise request file as a client in any language would write it.
std::string SyncRequestFile(const std::string& token, const std::string& lease,
                            const std::string& body) {
  return "POST /v1/synchronise.json HTTP/1.1\r\n"
         "Authorization: Bearer " +
         token + "\r\nX-Sync-Lease: " + lease +
         "\r\nIdempotency-Key: hand-1\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

class ExchangeWithSession : public Exchange {
 protected:
  void SetUp() override {
    Exchange::SetUp();
    std::string body;
    EncodeLoginRequest({"alice", "pw"}, body);
    auto login = world_.service().Handle(
        {"POST", std::string(kLoginPath), "", "", "", "", body});
    token_ = DecodeLoginResponse(login.body)->token;
    body.clear();
    EncodeLockRequest({"hand"}, body);
    auto lock = world_.service().Handle(
        {"POST", std::string(kLockPath), "", token_, "", "", body});
    lease_ = DecodeLockResponse(lock.body)->lease;
  }

  Response ReadAnswer(const std::string& base) {
    auto bytes = ReadFile(sub("answers") / (base + ".ans"));
    EXPECT_FALSE(bytes.empty()) << "no answer for " << base;
    Response r;
    size_t sp = bytes.find(' ');
    r.status = std::atoi(bytes.c_str() + sp + 1);
    r.body = bytes.substr(bytes.find("\r\n\r\n") + 4);
    return r;
  }

  std::string token_, lease_;
  const std::string add_ =
      R"({"add":{"todo":[{"id":"0b7c9a52-6a0e-4d7e-9d0e-5a4f8e2b1c3d",)"
      R"("last_update":"2026-01-01 10:00:00.000","v":1}]}})";
  const std::string base_ = "hand.0123456789abcdef0123456789abcdef";
};

TEST_F(ExchangeWithSession,
       TruncatedOrDamagedRequestsGetErrorsAndChangeNothing) {
  std::string file = SyncRequestFile(token_, lease_, add_);
  // Cut in the body, cut in the headers.
  for (size_t cut : {file.size() - 5, file.size() / 3}) {
    WriteFile(sub("requests") / (base_ + ".req"), file.substr(0, cut));
    ASSERT_EQ(*processor_->ProcessPending(), 1u);
    Response r = ReadAnswer(base_);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("bad_request"), std::string::npos) << r.body;
    EXPECT_TRUE(DumpLive(world_.ServerStore()).empty());
  }
  // Same length, one byte changed, with the body hash a client sends.
  std::string damaged = add_;
  damaged[damaged.find("\"v\":1") + 4] = '2';
  std::string with_hash = SyncRequestFile(token_, lease_, damaged);
  with_hash.insert(with_hash.find("Content-Length"),
                   "X-Sync-Body-Hash: 00000000000000000000000000000000\r\n");
  WriteFile(sub("requests") / (base_ + ".req"), with_hash);
  ASSERT_EQ(*processor_->ProcessPending(), 1u);
  Response r = ReadAnswer(base_);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("X-Sync-Body-Hash"), std::string::npos) << r.body;
  EXPECT_TRUE(DumpLive(world_.ServerStore()).empty());
  // Not a request at all; and no token.
  WriteFile(sub("requests") / (base_ + ".req"), "hello\n");
  ASSERT_EQ(*processor_->ProcessPending(), 1u);
  EXPECT_EQ(ReadAnswer(base_).status, 400);
  WriteFile(sub("requests") / (base_ + ".req"),
            SyncRequestFile("forged", lease_, add_));
  ASSERT_EQ(*processor_->ProcessPending(), 1u);
  EXPECT_EQ(ReadAnswer(base_).status, 401);
  EXPECT_TRUE(DumpLive(world_.ServerStore()).empty());
  // The whole file: applied.
  WriteFile(sub("requests") / (base_ + ".req"), file);
  ASSERT_EQ(*processor_->ProcessPending(), 1u);
  EXPECT_EQ(ReadAnswer(base_).status, 200);
  EXPECT_EQ(DumpLive(world_.ServerStore()).size(), 1u);
}

TEST_F(ExchangeWithSession, ReplayedRequestIsAppliedOnce) {
  std::string file = SyncRequestFile(token_, lease_, add_);
  WriteFile(sub("requests") / (base_ + ".req"), file);
  ASSERT_EQ(*processor_->ProcessPending(), 1u);
  Response first = ReadAnswer(base_);
  ASSERT_EQ(first.status, 200) << first.body;
  // A newer write of the same record, then the first request again.
  std::string update =
      R"({"update":{"todo":[{"id":"0b7c9a52-6a0e-4d7e-9d0e-5a4f8e2b1c3d",)"
      R"("last_update":"2026-01-01 11:00:00.000","v":2}]}})";
  const std::string base2 = "hand.11111111111111111111111111111111";
  WriteFile(sub("requests") / (base2 + ".req"),
            SyncRequestFile(token_, lease_, update)
                .replace(file.find("hand-1"), 6, "hand-2"));
  ASSERT_EQ(*processor_->ProcessPending(), 1u);
  Dump before = DumpLive(world_.ServerStore());
  WriteFile(sub("requests") / (base_ + ".req"), file);  // the replay
  ASSERT_EQ(*processor_->ProcessPending(), 1u);
  Response again = ReadAnswer(base_);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(DumpLive(world_.ServerStore()), before);
  EXPECT_EQ(before.begin()->second.first, R"({"v":2})");
  // Answered as the first time: its stamp, no conflict (applying it again
  // would have lost to the newer write and reported one).
  EXPECT_EQ(again.body, first.body);
  EXPECT_NE(again.body.find("\"conflicts\":{}"), std::string::npos)
      << again.body;

  // After the lock is released, a replay is refused outright.
  ASSERT_OK(world_.lock().Release("alice", lease_));
  WriteFile(sub("requests") / (base_ + ".req"), file);
  ASSERT_EQ(*processor_->ProcessPending(), 1u);
  EXPECT_EQ(ReadAnswer(base_).status, 409);
  EXPECT_EQ(DumpLive(world_.ServerStore()), before);
}

TEST_F(ExchangeWithSession, NamesNeverLeadOutOfTheFolder) {
  fs::path outside = dir_.path() / "outside.txt";
  WriteFile(outside, "precious");
  std::string file = SyncRequestFile(token_, lease_, add_);
  // Names the processor must not read or answer.
  const std::string bad_names[] = {
      "..hand.0123456789abcdef0123456789abcdef.req",
      "hand..0123456789abcdef0123456789abcdef.req",
      "a b.0123456789abcdef0123456789abcdef.req",
      "hand.0123456789ABCDEF0123456789ABCDEF.req",
      "hand.0123.req",
      "notes.txt",
  };
  for (const auto& name : bad_names) WriteFile(sub("requests") / name, file);
  // A link to a file outside, under a good name, and a folder.
  fs::create_symlink(outside, sub("requests") / (base_ + ".req"));
  fs::create_directory(sub("requests") /
                       "dir.0123456789abcdef0123456789abcdef.req");
  auto n = processor_->ProcessPending();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 0u);
  EXPECT_TRUE(Names(sub("requests")).empty());
  EXPECT_TRUE(Names(sub("answers")).empty());
  // Each rejected file, and a .reason file beside it.
  EXPECT_EQ(Names(sub("rejected")).size(), 2 * (std::size(bad_names) + 2));
  EXPECT_EQ(ReadFile(outside), "precious");
  EXPECT_TRUE(DumpLive(world_.ServerStore()).empty());
  EXPECT_EQ(log_.size(), std::size(bad_names) + 2);

  // A client name cannot hold a path either.
  for (const char* client : {"../x", "a/b", "..", "", "dev ice"}) {
    FileTransportOptions options;
    options.dir = exchange_;
    options.client = client;
    EXPECT_EQ(NewFileTransport(options).status().code(),
              Status::Code::kInvalidArgument)
        << client;
  }
  // A subfolder swapped for a link to elsewhere is refused.
  fs::remove_all(sub("answers"));
  fs::create_directory_symlink(dir_.path(), sub("answers"));
  ExchangeOptions options;
  options.dir = exchange_;
  EXPECT_EQ(NewExchangeProcessor(world_.service(), options).status().code(),
            Status::Code::kIOError);
}

TEST_F(Exchange, ADamagedAnswerIsDroppedAndAskedAgain) {
  Device& d = AddDevice("phone");
  ASSERT_OK(d.Put("todo", RecordId::Random(), "{}"));
  EXPECT_FALSE(d.Sync().ok());  // login written
  ASSERT_EQ(*processor_->ProcessPending(), 1u);
  auto answers = Names(sub("answers"));
  ASSERT_EQ(answers.size(), 1u);
  std::string bytes = ReadFile(sub("answers") / answers[0]);
  WriteFile(sub("answers") / answers[0], bytes.substr(0, bytes.size() - 3));
  auto r = d.Sync();
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption)
      << r.status().ToString();
  EXPECT_TRUE(Names(sub("answers")).empty());
  // The request is still there: the server answers it again, and the
  // device goes on.
  EXPECT_EQ(Names(sub("requests")).size(), 1u);
  SyncByHand(d);
  EXPECT_EQ(DumpLive(world_.ServerStore()).size(), 1u);
}

// The Transport conformance kit over an exchange folder answered by a processor
// thread.
using conformance::TransportConformance;

conformance::TransportFactory FileTransportFactory() {
  return conformance::TransportFactory{
      "file", [](Handler& handler) {
        // An exchange folder with a processor answering it from a thread.
        struct Exchange {
          std::string dir;
          std::unique_ptr<ExchangeProcessor> processor;
          std::atomic<bool> stop{false};
          std::thread thread;
          ~Exchange() {
            stop = true;
            thread.join();
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
          }
        };
        auto x = std::make_shared<Exchange>();
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "syncstack-xchg-XXXXXX")
                .string();
        if (mkdtemp(tmpl.data()) == nullptr) std::abort();
        x->dir = tmpl;
        x->processor = std::move(
            NewExchangeProcessor(handler, {x->dir, 64u << 20, {}}).value());
        x->thread = std::thread([raw = x.get()] {
          while (!raw->stop) {
            auto n = raw->processor->ProcessPending();
            if (!n.ok()) std::abort();
            if (*n == 0)
              std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
        });
        FileTransportOptions options;
        options.dir = x->dir;
        options.client = "conformance";
        options.poll = std::chrono::milliseconds(1);
        std::shared_ptr<Transport> client =
            std::move(NewFileTransport(options).value());
        return conformance::TransportHarness{{x, client}, client.get()};
      }};
}

INSTANTIATE_TEST_SUITE_P(Transports, TransportConformance,
                         ::testing::Values(FileTransportFactory()),
                         conformance::TransportFactoryName);

unsigned ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return static_cast<unsigned>(st.st_mode) & 0777u;
}

// Issue 14 item 9: a request whose answer name is taken by a folder cannot
// be answered: it is moved to rejected/ with a reason, before it is
// applied, and the other requests are answered as usual.
TEST_F(ExchangeWithSession, ARequestThatCannotBeAnsweredIsRejectedWithAReason) {
  const std::string poisoned = "evil.0123456789abcdef0123456789abcdef";
  fs::create_directory(sub("answers") / (poisoned + ".ans"));
  WriteFile(sub("requests") / (poisoned + ".req"),
            SyncRequestFile(token_, lease_, add_));
  auto n = processor_->ProcessPending();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 0u);
  EXPECT_TRUE(Names(sub("requests")).empty());
  EXPECT_TRUE(DumpLive(world_.ServerStore()).empty()) << "applied anyway";
  auto rejected = Names(sub("rejected"));
  ASSERT_EQ(rejected.size(), 2u);
  std::string reason_file =
      rejected[0].ends_with(".reason") ? rejected[0] : rejected[1];
  std::string reason = ReadFile(sub("rejected") / reason_file);
  EXPECT_NE(reason.find(poisoned + ".req"), std::string::npos) << reason;
  EXPECT_NE(reason.find("is taken by something that is not a file"),
            std::string::npos)
      << reason;
  // The folder keeps working: the next request is answered and applied.
  WriteFile(sub("requests") / (base_ + ".req"),
            SyncRequestFile(token_, lease_, add_));
  n = processor_->ProcessPending();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(ReadAnswer(base_).status, 200);
  EXPECT_EQ(DumpLive(world_.ServerStore()).size(), 1u);
}

// A full disk (here: a file size limit, so writes fail with EFBIG) is the
// folder's failure, not the request's: ProcessPending reports kUnavailable
// and keeps the request, and once there is room it is answered, applied
// once.
TEST_F(ExchangeWithSession, AFullDiskIsReportedAndTheRequestKept) {
  WriteFile(sub("requests") / (base_ + ".req"),
            SyncRequestFile(token_, lease_, add_));
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit tiny = old_limit;
  tiny.rlim_cur = 16;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tiny), 0);
  auto n = processor_->ProcessPending();
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Status::Code::kUnavailable)
      << n.status().ToString();
  EXPECT_EQ(Names(sub("requests")).size(), 1u);
  EXPECT_TRUE(Names(sub("answers")).empty());
  EXPECT_TRUE(Names(sub("rejected")).empty());
  n = processor_->ProcessPending();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(ReadAnswer(base_).status, 200);
  EXPECT_EQ(DumpLive(world_.ServerStore()).size(), 1u);
}

// Issue 14 item 8: what the server writes in the folder is the owner's
// alone when the server made the folder.
TEST_F(ExchangeWithSession, FoldersAndAnswersAreOwnerOnly) {
  mode_t old_umask = ::umask(0022);
  ExchangeOptions options;
  options.dir = (dir_.path() / "fresh").string();
  auto fresh = NewExchangeProcessor(world_.service(), options);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  fs::path root(options.dir);
  EXPECT_EQ(ModeOf(root), 0700u);
  for (const char* name : {"requests", "answers", "tmp", "rejected"}) {
    EXPECT_EQ(ModeOf(root / name), 0700u) << name;
  }
  WriteFile(root / "requests" / (base_ + ".req"),
            SyncRequestFile(token_, lease_, add_));
  ASSERT_EQ(*(*fresh)->ProcessPending(), 1u);
  ::umask(old_umask);
  EXPECT_EQ(ModeOf(root / "answers" / (base_ + ".ans")), 0600u);
}

}  // namespace
}  // namespace syncstack::testing
