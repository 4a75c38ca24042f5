// The README's library tour: a server and a device in one process; the
// device writes offline, then syncs. Build target: quickstart.
#include <cstdio>
#include <utility>

#include "syncstack/engine.h"
#include "syncstack/loopback/in_process_server.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/replica.h"
#include "syncstack/sqlite/sqlite_store.h"

using namespace syncstack;

int main() {
  // The server: a database and a conflict policy; the kit adds a lock, an
  // authenticator and the service, reached through a loopback transport
  // (a real deployment puts HTTP or files between them instead).
  InProcessServerOptions server_options;
  server_options.database = OpenMemoryDatabase().value();
  server_options.policy = NewLastWriteWinsPolicy();
  InProcessServer server(std::move(server_options));
  const ConflictPolicy& policy = server.policy();
  Transport& transport = server.transport();

  // A device: its own SQLite store; the app writes through a Replica.
  auto device_db = OpenSqliteDatabase({.path = ":memory:"}).value();
  auto store = device_db->OpenAccount(kLocalAccount).value();
  Replica app(*store, policy, SystemClock());
  Status s = app.Put("todo", RecordId::Random(), R"({"title":"buy milk"})");
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;

  // Sync: lock, manifest, three cases, batches, release.
  SyncEngine engine(*store, transport, policy);
  SyncOptions options;
  options.user = "alice";
  options.device = "phone";
  auto report = engine.Run(options);
  if (!report.ok()) {
    return std::fprintf(stderr, "%s\n", report.status().ToString().c_str()), 1;
  }
  std::printf("pushed %llu new record(s)\n",
              static_cast<unsigned long long>(report->cases.pushed_adds));
}
