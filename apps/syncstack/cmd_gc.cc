// gc: tombstone collection on a server store (docs/policies.md,
// "Tombstone collection").
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "syncstack/service.h"
#include "syncstack/sync_lock.h"
#include "syncstack/tombstones.h"

namespace syncstack::cli {

int RunGc(int argc, char** argv) {
  po::options_description options("gc options");
  std::string uri;
  std::vector<std::string> users;
  int64_t ttl_days = -1;
  options.add_options()("store", po::value(&uri)->required(),
                        "server store URI, e.g. sqlite:server.db")(
      "user", po::value(&users)->required(),
      "the account (user name); repeat for several")(
      "device-ttl-days", po::value(&ttl_days)->required(),
      "a device not seen for longer is gone: it no longer holds tombstones "
      "back, and resyncs fully if it returns behind the horizon");
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc, argv,
                 "syncstack gc --store URI --user NAME [--user NAME...] "
                 "--device-ttl-days N",
                 options, vm, exit_code)) {
    return exit_code;
  }
  if (ttl_days < 0) return Fail("--device-ttl-days must not be negative");
  if (ttl_days > 100 * 365) return Fail("--device-ttl-days is too large");
  const std::chrono::milliseconds ttl =
      std::chrono::hours(24) * static_cast<int>(ttl_days);
  // Check every account before changing any.
  std::vector<ServerAccount> accounts;
  for (const auto& user : users) {
    auto account = OpenServerAccount(uri, user);
    if (!account.ok()) return Fail(account.status());
    accounts.push_back(std::move(*account));
  }
  for (size_t i = 0; i < accounts.size(); ++i) {
    ServerAccount& account = accounts[i];
    // Keep devices out while the horizon moves, where the lock is shared
    // with serve processes (PostgreSQL); elsewhere a device that syncs
    // meanwhile is refused before it writes and resyncs on its next run.
    auto lock =
        account.database->NewSyncLock(SystemClock(), std::chrono::minutes(5));
    std::string token;
    if (lock != nullptr) {
      auto attempt = lock->Acquire(users[i], kTombstoneCollector, "");
      if (!attempt.ok()) return Fail(attempt.status());
      if (!attempt->granted) {
        return Fail("\"" + users[i] + "\" is syncing (device \"" +
                    attempt->holder + "\"); try again later");
      }
      token = attempt->lease.token;
    }
    auto report = CollectTombstones(*account.store, SystemClock().Now(), ttl);
    if (lock != nullptr) (void)lock->Release(users[i], token);
    if (!report.ok()) return Fail(report.status());
    std::printf(
        "syncstack: %s: collected %llu tombstones, kept %llu; horizon %llu "
        "(was %llu, sequence %llu); devices: %llu live, %llu gone\n",
        users[i].c_str(), static_cast<unsigned long long>(report->collected),
        static_cast<unsigned long long>(report->kept),
        static_cast<unsigned long long>(report->horizon),
        static_cast<unsigned long long>(report->previous_horizon),
        static_cast<unsigned long long>(report->sequence),
        static_cast<unsigned long long>(report->live_devices),
        static_cast<unsigned long long>(report->gone_devices));
  }
  return kExitOk;
}

}  // namespace syncstack::cli
