// One end-to-end benchmark run: the baseline, a server database filled
// through the Store API, the real server as a child process, and a device
// that syncs over HTTP through SyncEngine: a cold sync, then for each
// change count D in turn `repeat` rounds of D changes synced in each mode
// asked. Every sync is checked against the server's database before its
// figures count, so a broken sync never yields numbers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "report.h"
#include "stores.h"
#include "syncstack/engine.h"
#include "syncstack/status.h"
#include "workload.h"

namespace syncstack::bench {

struct RunOptions {
  // The device's store, and the raw baseline's: kSqlite or kLmdb.
  StoreKind store = StoreKind::kSqlite;
  // The server's store. Default: SQLite.
  StoreKind server_store = StoreKind::kSqlite;
  // server_store kPostgres: the conninfo of the PostgreSQL server on which
  // the run makes (and afterwards drops) its database. Default: none.
  std::string postgres;
  Workload workload;  // its `changes` is set per D from `changes`
  // The change counts, each at most workload.records, run in this order
  // after the one cold sync. Default: one round set with no changes.
  std::vector<uint64_t> changes = {0};
  SyncMode mode = SyncMode::kAuto;  // of the cold sync, and the reported
  // The modes of a round set, in order (each synced after its own round
  // of changes). Default: auto, then full.
  std::vector<SyncMode> modes = {SyncMode::kAuto, SyncMode::kFull};
  int repeat = 1;  // how many times each D runs its round set (>= 1)
  // Log in with the password on every sync instead of keeping the login
  // token between syncs (SyncOptions::server). Default: false.
  bool login_every_sync = false;
  // Analyze a PostgreSQL server database after the fill
  // (ServerDatabase::Analyze). Default: true.
  bool analyze = true;
  bool keep = false;          // keep a PostgreSQL database. Default: false.
  std::string syncstack;      // the program whose `serve` is started
  std::filesystem::path dir;  // an empty working directory
};

// Runs the benchmark in options.dir (the caller removes it) and returns its
// figures. Progress goes to stderr, a line per sync. Errors: the first
// failure of any step, with context (a failed check is kCorruption; a sync
// that met conflicts is kConflict; kUnavailable when the PostgreSQL server
// does not answer).
Result<RunFigures> RunSyncBenchmark(const RunOptions& options);

}  // namespace syncstack::bench
