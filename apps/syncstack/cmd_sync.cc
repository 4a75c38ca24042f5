// syncstack sync: a device syncing with a server over HTTP or a folder.
#include <signal.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <thread>

#include "commands.h"
#include "remote_common.h"
#include "syncstack/codec.h"
#include "syncstack/file/file_transport.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/login_throttle.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/policies/registry.h"
#include "syncstack/service.h"
#include "syncstack/users.h"

namespace syncstack::cli {
namespace {

// Progress for people, once a sync has taken over a second: a bar with
// exact totals on a terminal, plain lines (one per tenth) otherwise.
class ProgressPrinter final : public SyncObserver {
 public:
  ProgressPrinter() : tty_(isatty(STDERR_FILENO)), start_(Now()) {}
  ~ProgressPrinter() override { Finish(); }

  void OnProgress(const SyncProgress& p) override {
    using Phase = SyncProgress::Phase;
    if (p.phase == Phase::kDone) return Finish();
    if (p.phase != Phase::kExchange) return;
    last_ = p;
    if (Now() - start_ < std::chrono::seconds(1)) return;
    Draw();
  }

 private:
  static std::chrono::steady_clock::time_point Now() {
    return std::chrono::steady_clock::now();
  }

  void Draw() {
    const auto done = static_cast<unsigned long long>(last_.done);
    const auto total = static_cast<unsigned long long>(last_.total);
    if (tty_) {
      constexpr int kWidth = 30;
      int filled =
          total == 0 ? kWidth : static_cast<int>(done * kWidth / total);
      std::fprintf(stderr, "\r[%.*s%.*s] %llu/%llu records", filled,
                   "==============================", kWidth - filled,
                   "                              ", done, total);
      drawn_ = true;
    } else {
      unsigned long long tenth = total == 0 ? 10 : done * 10 / total;
      if (tenth == last_tenth_) return;
      last_tenth_ = tenth;
      std::fprintf(stderr, "syncstack: exchanged %llu of %llu records\n", done,
                   total);
    }
  }

  void Finish() {
    if (!drawn_) return;
    Draw();  // the final count
    std::fprintf(stderr, "\n");
    drawn_ = false;
  }

  bool tty_;
  std::chrono::steady_clock::time_point start_;
  SyncProgress last_;
  bool drawn_ = false;
  unsigned long long last_tenth_ = 11;
};

}  // namespace

int RunSync(int argc, char** argv) {
  po::options_description options("sync options");
  std::string uri, remote, device, collections, schema_file;
  int lock_wait = 60;
  int wait_seconds = 30;
  std::string ca_file;
  options.add_options()("store", po::value(&uri)->required(),
                        "this device's store URI, e.g. sqlite:phone.db")(
      "remote", po::value(&remote)->required(),
      "the server: http://HOST:PORT, https://HOST:PORT, or dir:PATH for an "
      "exchange folder")(
      "ca-file", po::value(&ca_file),
      "https: only: trust the certificate authorities in this PEM file "
      "instead of the system's trust store")(
      "wait", po::value(&wait_seconds),
      "dir: only: seconds to wait for each answer (default: 30; 0 for a "
      "hand-carried folder: each run goes as far as the answers there)")(
      "device", po::value(&device),
      "this device's name (default: one made up once and kept in the store)")(
      "collections", po::value(&collections),
      "sync only these, comma-separated")(
      "schema", po::value(&schema_file),
      "schema file: collections, id keys, and the app's tables they map to "
      "(a sqlite: store is then the app's own database)")(
      "lock-wait", po::value(&lock_wait),
      "seconds to wait while another device syncs (default: 60)")(
      "allow-mass-delete",
      "delete local records even when the server lacks most of them")(
      "policy", po::value<std::string>(),
      "conflict policy to plan with (default: the server's, told at login "
      "and remembered in the store)")(
      "mode", po::value<std::string>()->default_value("auto"),
      "how to find what differs: auto (the engine chooses and says why), "
      "full (the streamed manifest), reconcile (range-based set "
      "reconciliation) or changes (the server's changes feed after this "
      "device's checkpoint)");
  AddPasswordOptions(options);
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc, argv,
                 "syncstack sync --store URI --remote URL --user NAME "
                 "[--password PW | --password-file FILE] [--device NAME]",
                 options, vm, exit_code)) {
    return exit_code;
  }
  // Checked before anything is opened: bad input changes nothing.
  SyncMode sync_mode = SyncMode::kAuto;
  if (const std::string mode = vm["mode"].as<std::string>(); mode == "full") {
    sync_mode = SyncMode::kFull;
  } else if (mode == "reconcile") {
    sync_mode = SyncMode::kReconcile;
  } else if (mode == "changes") {
    sync_mode = SyncMode::kChanges;
  } else if (mode != "auto") {
    Fail("--mode: must be auto, full, reconcile or changes, not \"" + mode +
         "\"");
    return kExitUsage;  // a bad command line
  }
  const bool by_file = remote.rfind("dir:", 0) == 0;
  if (wait_seconds < 0) return Fail("--wait must be 0 or more");
  if (!ca_file.empty() && remote.rfind("https://", 0) != 0) {
    return Fail("--ca-file is for --remote https://HOST:PORT only");
  }
  std::unique_ptr<Transport> transport;
  if (!by_file) {
    HttpClientOptions http;
    http.url = remote;
    http.ca_file = ca_file;
    auto made = NewHttpTransport(http);
    if (!made.ok()) return Fail(made.status().WithContext("--remote"));
    transport = std::move(made).value();
  }
  auto password = GetPassword(vm);
  if (!password.ok()) return Fail(password.status());
  auto local = OpenLocalStore(uri, schema_file);
  if (!local.ok()) return Fail(local.status());

  if (device.empty()) {
    auto kept = local->store->GetMeta(meta::kDevice);
    if (!kept.ok()) return Fail(kept.status());
    if (*kept) {
      device = **kept;
    } else {
      device = "device-" + RecordId::Random().ToString().substr(0, 8);
      ChangeBatch batch;
      batch.SetMeta(std::string(meta::kDevice), device);
      Status s = local->store->Apply(WriteOptions{}, batch);
      if (!s.ok()) return Fail(s);
    }
  }
  if (by_file) {
    FileTransportOptions file;
    file.dir = remote.substr(4);
    file.client = device;
    file.wait = std::chrono::seconds(wait_seconds);
    auto made = NewFileTransport(file);
    if (!made.ok()) {
      return Fail(made.status().WithContext("--remote " + remote +
                                            " (the device name names the "
                                            "files)"));
    }
    transport = std::move(made).value();
  }
  SyncOptions sync;
  sync.user = vm["user"].as<std::string>();
  sync.password = *password;
  sync.device = device;
  sync.allow_mass_delete = vm.count("allow-mass-delete") > 0;
  // A folder's requests are matched by their bytes: no changing clock.
  sync.send_clock = !by_file;
  sync.lock_wait = std::chrono::seconds(std::max(0, lock_wait));
  for (size_t start = 0; start < collections.size();) {
    size_t comma = collections.find(',', start);
    if (comma == std::string::npos) comma = collections.size();
    if (comma > start) {
      sync.collections.push_back(collections.substr(start, comma - start));
    }
    start = comma + 1;
  }
  // The policy: --policy, else the one the server named last time (kept in
  // the store's metadata "policy"), else lww; a server that names another
  // at login is followed, and remembered.
  std::string policy_name = "lww";
  if (vm.count("policy")) {
    policy_name = vm["policy"].as<std::string>();
  } else if (auto kept = local->store->GetMeta(meta::kPolicy);
             kept.ok() && *kept) {
    policy_name = **kept;
  }
  auto policy = PolicyByName(policy_name);
  if (!policy.ok()) return Fail(policy.status().WithContext("--policy"));
  std::unique_ptr<ConflictPolicy> adopted;
  if (!vm.count("policy")) {
    sync.adopt_policy = [&adopted](std::string_view name) {
      auto p = PolicyByName(name);
      adopted = p.ok() ? std::move(*p) : nullptr;
      return adopted.get();
    };
  }
  sync.mode = sync_mode;
  SyncEngine engine(*local->store, *transport, **policy, local->schema);
  ProgressPrinter progress;
  auto report = engine.Run(sync, &progress);
  if (!report.ok()) {
    const Status& st = report.status();
    if (st.code() == Status::Code::kAborted) {
      return Fail(st.message() + " (--allow-mass-delete)");
    }
    return Fail(st);
  }
  const ConflictPolicy& used = adopted ? *adopted : **policy;
  if (used.name() != policy_name) {
    ChangeBatch remember;
    remember.SetMeta(std::string(meta::kPolicy), std::string(used.name()));
    (void)local->store->Apply(WriteOptions{}, remember);
  }
  std::printf("syncstack: synced %s as \"%s\": %s\n", uri.c_str(),
              device.c_str(), DescribeReport(*report).c_str());
  if (!report->mode_reason.empty()) {
    std::printf("syncstack: %s\n", report->mode_reason.c_str());
  }
  std::fputs(DescribeClock(*report).c_str(), stdout);
  for (const auto& c : report->conflicts) {
    std::printf("syncstack: conflict on %s/%s: %s; kept the %s's version\n",
                c.collection.c_str(), c.id.ToString().c_str(), c.what.c_str(),
                std::string(KeptName(c.kept)).c_str());
  }
  return kExitOk;
}

}  // namespace syncstack::cli
