#include "server_db.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "syncstack/fingerprint.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/users.h"

namespace syncstack::bench {
namespace {

using Steady = std::chrono::steady_clock;

constexpr size_t kFillBatch = 10'000;  // records per Apply

// A database name no other run on the same PostgreSQL server uses now.
std::string ScratchName() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return "syncstack_bench_" + std::to_string(getpid()) + "_" +
         std::to_string(
             std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

}  // namespace

Result<std::unique_ptr<ServerDatabase>> ServerDatabase::Create(
    const ServerDatabaseOptions& options) {
  std::unique_ptr<ServerDatabase> db(new ServerDatabase);
  db->kind_ = options.kind;
  if (options.kind != StoreKind::kPostgres) {
    db->path_ = DatabasePath(options.kind, options.dir, "server");
    return db;
  }
  if (options.postgres.empty()) {
    return Status::InvalidArgument(
        "a PostgreSQL server store needs a server: set SYNCSTACK_PG_CONNINFO "
        "(scripts/with-postgres.sh starts one and sets it) or pass "
        "--postgres CONNINFO");
  }
  SYNCSTACK_ASSIGN_OR_RETURN(
      db->scratch_, ScratchPostgres::Create(options.postgres, ScratchName()));
  if (options.keep) {
    db->scratch_->Keep();
    std::fprintf(stderr,
                 "syncstack-bench-sync: the server's database %s is kept\n",
                 db->scratch_->name().c_str());
  }
  return db;
}

ServerDatabase::~ServerDatabase() = default;

std::string ServerDatabase::uri() const {
  if (scratch_) return "postgres:" + scratch_->conninfo();
  return StoreUri(kind_, path_);
}

std::string ServerDatabase::where() const {
  if (scratch_) return "postgres database " + scratch_->name();
  return path_.string();
}

Status ServerDatabase::Analyze() const {
  return scratch_ ? scratch_->Analyze() : Status::Ok();
}

Result<std::unique_ptr<Database>> ServerDatabase::Open() const {
  if (scratch_) return scratch_->Open();
  return OpenDatabase(kind_, path_);
}

Result<double> FillServer(Database& database, const Workload& w) {
  SYNCSTACK_RETURN_IF_ERROR(AddUser(database, kUser, kPassword));
  SYNCSTACK_ASSIGN_OR_RETURN(auto store, database.OpenAccount(kUser));
  auto start = Steady::now();
  ChangeBatch batch;
  SetFingerprint figure;
  int64_t sequence = 1;
  for (uint64_t i = 0; i < w.records; ++i) {
    Record r;
    r.collection = std::string(kCollection);
    r.id = w.Id(i);
    r.version.timestamp = kFillTime + static_cast<int64_t>(i);
    r.base = sequence;
    r.payload = w.Payload(i, 0, "fill");
    figure.Add(r.id, r.version);
    batch.Put(std::move(r));
    if (batch.size() == kFillBatch || i + 1 == w.records) {
      batch.SetMeta(std::string(meta::kSequence), std::to_string(sequence++));
      batch.SetMeta(meta::CollectionFigure(kCollection), figure.Encode());
      SYNCSTACK_RETURN_IF_ERROR(
          store->Apply(WriteOptions{}, batch).WithContext("server fill"));
      batch.Clear();
    }
  }
  return std::chrono::duration<double>(Steady::now() - start).count();
}

}  // namespace syncstack::bench
