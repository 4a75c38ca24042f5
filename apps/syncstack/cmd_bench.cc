// bench sync: an end-to-end benchmark that sets everything up itself — a
// server database filled through the Store API, the real server as a child
// process, a device syncing over HTTP through SyncEngine — and prints one
// JSON line of figures. Every sync is checked against the server's store
// before its figures count, so a broken sync never yields numbers.
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "syncstack/codec.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/remote.h"
#include "syncstack/replica.h"
#include "syncstack/users.h"

extern char** environ;

namespace syncstack::cli {
namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

constexpr char kUser[] = "bench";
constexpr char kPassword[] = "bench-password";
constexpr std::string_view kCollection = "todo";
constexpr Timestamp kFillTime = 1'700'000'000'000;  // before any edit
constexpr size_t kFillBatch = 10'000;               // records per Apply
constexpr size_t kWriterBatch = 500;  // records per writer synchronise

struct BenchConfig {
  std::string store;  // "sqlite" | "lmdb"
  uint64_t records = 0;
  uint64_t changes = 0;
  SyncMode mode = SyncMode::kAuto;
  size_t payload_bytes = 100;
  uint64_t seed = 1;
  std::string parent;  // where the temp dir goes
  bool keep = false;
};

double Seconds(Steady::time_point from) {
  return std::chrono::duration<double>(Steady::now() - from).count();
}

uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Record i's id, from the seed alone (random access, so no id list is kept
// in memory). SplitMix is a bijection, so distinct i give distinct ids.
RecordId NthId(uint64_t seed, uint64_t i) {
  const uint64_t base = SplitMix(seed);
  uint64_t hi = SplitMix(base + 2 * i), lo = SplitMix(base + 2 * i + 1);
  std::array<uint8_t, 16> b{};
  std::memcpy(b.data(), &hi, 8);
  std::memcpy(b.data() + 8, &lo, 8);
  b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);  // a v4 UUID's shape
  b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);
  return RecordId(b);
}

// A JSON object of about `bytes` bytes (the id key is the engine's and is
// not part of a stored payload). `rev` 0 is the fill, later edits count up.
std::string Payload(uint64_t i, int rev, std::string_view by, size_t bytes) {
  std::string out = "{\"title\":\"item " + std::to_string(i) + " by " +
                    std::string(by) + "\",\"n\":" + std::to_string(i) +
                    ",\"rev\":" + std::to_string(rev) + ",\"pad\":\"";
  const size_t tail = 2;  // "}
  if (out.size() + tail < bytes) out.append(bytes - out.size() - tail, 'x');
  out += "\"}";
  return out;
}

// The j-th change of `round`: an index into the records. Distinct within a
// round (changes <= records); rounds start at different offsets.
uint64_t ChangedIndex(const BenchConfig& c, int round, uint64_t j) {
  uint64_t step =
      c.changes == 0 ? 1 : std::max<uint64_t>(1, c.records / c.changes);
  return (j * step + static_cast<uint64_t>(round)) % c.records;
}

// The first ceil(changes/2) changes of a round are the server's.
uint64_t ServerChanges(const BenchConfig& c) { return (c.changes + 1) / 2; }

// --- Baselines: the raw engine inserting N rows in one transaction ---

Result<double> RawSqliteRate(const std::string& path, const BenchConfig& c) {
  sqlite3* db = nullptr;
  auto fail = [&](const char* what) {
    Status s = Status::IOError(std::string("raw sqlite ") + what + ": " +
                               (db ? sqlite3_errmsg(db) : "open failed"));
    sqlite3_close(db);
    return s;
  };
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return fail("open");
  // The store's own settings: WAL, synchronous=FULL, a 16 MiB cache.
  if (sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "PRAGMA cache_size=-16384;"
                   "CREATE TABLE r(id BLOB PRIMARY KEY, ts INTEGER, payload "
                   "TEXT) WITHOUT ROWID;",
                   nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail("create");
  }
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO r VALUES(?,?,?)", -1, &insert,
                         nullptr) != SQLITE_OK) {
    return fail("prepare");
  }
  std::string payload;
  auto start = Steady::now();
  bool ok = sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK;
  for (uint64_t i = 0; ok && i < c.records; ++i) {
    RecordId id = NthId(c.seed, i);
    payload = Payload(i, 0, "fill", c.payload_bytes);
    sqlite3_bind_blob(insert, 1, id.bytes().data(), 16, SQLITE_STATIC);
    sqlite3_bind_int64(insert, 2, kFillTime + static_cast<int64_t>(i));
    sqlite3_bind_text(insert, 3, payload.data(),
                      static_cast<int>(payload.size()), SQLITE_STATIC);
    ok = sqlite3_step(insert) == SQLITE_DONE;
    sqlite3_reset(insert);
  }
  ok = ok && sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  double seconds = Seconds(start);
  sqlite3_finalize(insert);
  if (!ok) return fail("insert");
  sqlite3_close(db);
  return static_cast<double>(c.records) / seconds;
}

Result<double> RawLmdbRate(const std::string& dir, const BenchConfig& c) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("raw lmdb: cannot create " + dir);
  MDB_env* env = nullptr;
  auto fail = [&](const char* what, int rc) {
    Status s = Status::IOError(std::string("raw lmdb ") + what + ": " +
                               mdb_strerror(rc));
    if (env) mdb_env_close(env);
    return s;
  };
  int rc = mdb_env_create(&env);
  if (rc != 0) return fail("env", rc);
  // Sized once for every row (the file is sparse): no resize in the loop.
  size_t map = (c.records * (c.payload_bytes + 128) * 2 + (64u << 20));
  map = (map + 4095) / 4096 * 4096;
  if ((rc = mdb_env_set_mapsize(env, map)) != 0) return fail("mapsize", rc);
  if ((rc = mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0644)) != 0) {
    return fail("open", rc);
  }
  std::string value;
  auto start = Steady::now();
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  if ((rc = mdb_txn_begin(env, nullptr, 0, &txn)) != 0)
    return fail("begin", rc);
  if ((rc = mdb_dbi_open(txn, nullptr, 0, &dbi)) != 0) {
    mdb_txn_abort(txn);
    return fail("dbi", rc);
  }
  for (uint64_t i = 0; i < c.records; ++i) {
    RecordId id = NthId(c.seed, i);
    int64_t ts = kFillTime + static_cast<int64_t>(i);
    value.assign(reinterpret_cast<const char*>(&ts), sizeof ts);
    value += Payload(i, 0, "fill", c.payload_bytes);
    MDB_val k{16, const_cast<uint8_t*>(id.bytes().data())};
    MDB_val v{value.size(), value.data()};
    if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0) {
      mdb_txn_abort(txn);
      return fail("put", rc);
    }
  }
  if ((rc = mdb_txn_commit(txn)) != 0) return fail("commit", rc);
  double seconds = Seconds(start);
  mdb_env_close(env);
  return static_cast<double>(c.records) / seconds;
}

// --- Peak RSS (VmHWM), reset per phase through clear_refs ---

void ResetPeak(const std::string& pid) {
  std::ofstream("/proc/" + pid + "/clear_refs") << "5";
}

// VmHWM in MB; -1 if unreadable.
double PeakMb(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
    }
  }
  return -1;
}

// --- The server: this binary's `serve`, as a child process ---

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { (void)Stop(); }

  // Starts `serve --store uri --listen 127.0.0.1:0` (the server picks a
  // free port and prints it) with its output in `dir`, and waits until it
  // answers a login.
  Status Start(const std::string& uri, const fs::path& dir) {
    std::array<char, 4096> exe{};
    ssize_t n = readlink("/proc/self/exe", exe.data(), exe.size() - 1);
    if (n <= 0) return Status::IOError("cannot find this program's path");
    std::string out_file = (dir / "server.out").string();
    log_file_ = (dir / "server.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_file_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> args = {"syncstack", "serve",    "--store",
                                     uri,         "--listen", "127.0.0.1:0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc =
        posix_spawn(&pid_, exe.data(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      return Status::IOError(std::string("cannot start the server: ") +
                             std::strerror(rc));
    }
    // "syncstack: serving URI on http://127.0.0.1:PORT (policy lww)"
    auto deadline = Steady::now() + std::chrono::seconds(60);
    while (url_.empty()) {
      std::ifstream in(out_file);
      std::string line;
      if (std::getline(in, line) && !in.eof()) {
        size_t at = line.find("http://127.0.0.1:");
        if (at != std::string::npos) {
          url_ = line.substr(at, line.find(' ', at) - at);
          break;
        }
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return Status::IOError("the server exited at start: " + LogTail());
      }
      if (Steady::now() > deadline) {
        return Status::Unavailable("the server did not start: " + LogTail());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Listening already; a login proves it answers.
    HttpClientOptions http;
    http.url = url_;
    SYNCSTACK_ASSIGN_OR_RETURN(auto transport, NewHttpTransport(http));
    Status s;
    do {
      RemoteClient client(*transport);
      s = client.Login(kUser, kPassword);
      if (s.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (Steady::now() < deadline);
    return s.ok() ? s : s.WithContext("the server does not answer");
  }

  // SIGTERM and wait. Errors: kIOError if it did not exit cleanly.
  Status Stop() {
    if (pid_ <= 0) return Status::Ok();
    kill(pid_, SIGTERM);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return Status::IOError("the server did not stop cleanly: " + LogTail());
    }
    return Status::Ok();
  }

  std::string pid() const { return std::to_string(pid_); }
  const std::string& url() const { return url_; }

 private:
  std::string LogTail() const {
    std::ifstream in(log_file_);
    std::string line, last = "(no output)";
    while (std::getline(in, line)) {
      if (!line.empty()) last = line;
    }
    return last;
  }

  pid_t pid_ = -1;
  std::string url_;
  std::string log_file_;
};

// --- Edits on both sides ---

// The server's share of a round's changes, by a second client through the
// protocol (the server keeps per-account state; its files are not touched).
Status WriteOnServer(const std::string& url, const BenchConfig& c, int round) {
  HttpClientOptions http;
  http.url = url;
  SYNCSTACK_ASSIGN_OR_RETURN(auto transport, NewHttpTransport(http));
  RemoteClient writer(*transport);
  SYNCSTACK_RETURN_IF_ERROR(writer.Login(kUser, kPassword));
  SYNCSTACK_RETURN_IF_ERROR(
      writer.Lock("bench-writer", nullptr, SystemClock().Now()).status());
  const uint64_t total = ServerChanges(c);
  for (uint64_t j = 0; j < total;) {
    SyncRequest request;
    CollectionRecords& list = request.update.emplace_back();
    list.collection = std::string(kCollection);
    for (; j < total && list.records.size() < kWriterBatch; ++j) {
      uint64_t i = ChangedIndex(c, round, j);
      WireRecord& r = list.records.emplace_back();
      r.id = NthId(c.seed, i);
      r.last_update = SystemClock().Now();
      r.payload = Payload(i, round + 1, "server", c.payload_bytes);
    }
    SYNCSTACK_ASSIGN_OR_RETURN(SyncResponse answer,
                               writer.Synchronise(request, Schema()));
    if (!answer.conflicts.empty()) {
      return Status::Conflict("the writer's edits met a conflict");
    }
  }
  return writer.Unlock();
}

// The device's share, as an app writes: through Replica.
Status WriteOnDevice(Store& store, const ConflictPolicy& policy,
                     const BenchConfig& c, int round) {
  Replica replica(store, policy, SystemClock());
  for (uint64_t j = ServerChanges(c); j < c.changes; ++j) {
    uint64_t i = ChangedIndex(c, round, j);
    SYNCSTACK_RETURN_IF_ERROR(
        replica.Put(kCollection, NthId(c.seed, i),
                    Payload(i, round + 1, "device", c.payload_bytes)));
  }
  return Status::Ok();
}

// --- Checks ---

// The device's records equal the server's: every (id, last_update,
// deleted) of both full scans, and the payloads of a sample (the ends and
// the last round's changes). The server's store is opened read-only in
// effect (nothing is written) through a second handle.
Status CheckEqual(Store& device, const std::string& server_uri,
                  const BenchConfig& c, int round) {
  DatabaseRegistry registry;
  RegisterBuiltins(registry);
  SYNCSTACK_ASSIGN_OR_RETURN(auto database, registry.Open(server_uri));
  SYNCSTACK_ASSIGN_OR_RETURN(auto server, database->OpenAccount(kUser));
  auto a = device.Scan(kCollection, ScanOptions{});
  auto b = server->Scan(kCollection, ScanOptions{});
  uint64_t count = 0;
  for (; a->Valid() && b->Valid(); a->Next(), b->Next(), ++count) {
    const ManifestEntry& x = a->entry();
    const ManifestEntry& y = b->entry();
    if (x.id != y.id || x.version.timestamp != y.version.timestamp ||
        x.deleted != y.deleted || x.state != SyncState::kSynced) {
      return Status::Corruption("device and server differ at " +
                                (x.id < y.id ? x.id : y.id).ToString());
    }
  }
  SYNCSTACK_RETURN_IF_ERROR(a->status());
  SYNCSTACK_RETURN_IF_ERROR(b->status());
  if (a->Valid() || b->Valid()) {
    return Status::Corruption(std::string("the ") +
                              (a->Valid() ? "device" : "server") +
                              " has more records");
  }
  if (count != c.records) {
    return Status::Corruption("both have " + std::to_string(count) +
                              " records, not " + std::to_string(c.records));
  }
  std::vector<RecordId> sample = {NthId(c.seed, 0),
                                  NthId(c.seed, c.records - 1)};
  for (uint64_t j = 0; round >= 0 && j < c.changes; ++j) {
    sample.push_back(NthId(c.seed, ChangedIndex(c, round, j)));
  }
  std::vector<std::string> left, right;
  SYNCSTACK_RETURN_IF_ERROR(
      device.Get(kCollection, sample,
                 [&](const Record& r) { left.push_back(r.payload); }));
  SYNCSTACK_RETURN_IF_ERROR(
      server->Get(kCollection, sample,
                  [&](const Record& r) { right.push_back(r.payload); }));
  if (left.size() != sample.size() || left != right) {
    return Status::Corruption("device and server payloads differ");
  }
  for (uint64_t j = 0; round >= 0 && j < c.changes; ++j) {
    std::string_view by = j < ServerChanges(c) ? "server" : "device";
    uint64_t i = ChangedIndex(c, round, j);
    if (left[2 + j] != Payload(i, round + 1, by, c.payload_bytes)) {
      return Status::Corruption("a change of round " + std::to_string(round) +
                                " is missing: record " + std::to_string(i));
    }
  }
  return Status::Ok();
}

// --- One measured sync ---

struct Figures {
  double seconds = 0;
  uint64_t records = 0;  // in the local store after the run
  TrafficCounters traffic;
  std::string mode, reason;
  uint64_t cold_records = 0, pulled = 0, pushed = 0;
  double client_peak_mb = -1, server_peak_mb = -1;
  // Where the run's time went (SyncReport): waiting for the server while
  // finding differences, planning, and the synchronise exchange.
  double fetch_seconds = 0, plan_seconds = 0, exchange_seconds = 0;
};

Result<Figures> MeasuredSync(SyncEngine& engine, const SyncOptions& options,
                             const ServerProcess& server) {
  ResetPeak("self");
  ResetPeak(server.pid());
  auto start = Steady::now();
  SYNCSTACK_ASSIGN_OR_RETURN(SyncReport report, engine.Run(options));
  Figures f;
  f.seconds = Seconds(start);
  f.client_peak_mb = PeakMb("self");
  f.server_peak_mb = PeakMb(server.pid());
  f.traffic = report.traffic;
  f.fetch_seconds = static_cast<double>(report.fetch_time.count()) / 1e6;
  f.plan_seconds = static_cast<double>(report.plan_time.count()) / 1e6;
  f.exchange_seconds = static_cast<double>(report.exchange_time.count()) / 1e6;
  f.mode = std::string(SyncModeName(report.mode));
  f.reason = report.mode_reason;
  f.cold_records = report.cold_records;
  f.pulled = report.cases.fetched_new + report.cases.pulled;
  f.pushed = report.cases.pushed_updates + report.cases.pushed_adds;
  if (!report.conflicts.empty()) {
    return Status::Conflict("the benchmark's sync met " +
                            std::to_string(report.conflicts.size()) +
                            " conflicts");
  }
  return f;
}

// --- Output ---

class JsonLine {
 public:
  JsonLine& Key(std::string_view key) {
    if (!out_.empty() && out_.back() != '{') out_ += ',';
    AppendJsonString(key, out_);
    out_ += ':';
    return *this;
  }
  JsonLine& Str(std::string_view key, std::string_view value) {
    Key(key);
    AppendJsonString(value, out_);
    return *this;
  }
  JsonLine& Int(std::string_view key, uint64_t value) {
    Key(key);
    out_ += std::to_string(value);
    return *this;
  }
  JsonLine& Num(std::string_view key, double value) {
    Key(key);
    char buf[64];
    if (value < 0) {
      out_ += "null";
    } else {
      std::snprintf(buf, sizeof buf, "%.6g", value);
      out_ += buf;
    }
    return *this;
  }
  JsonLine& Open(std::string_view key) {
    Key(key);
    out_ += '{';
    return *this;
  }
  JsonLine& Open() {
    out_ += '{';
    return *this;
  }
  JsonLine& Close() {
    out_ += '}';
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

void AddFigures(JsonLine& j, std::string_view key, const Figures& f, bool cold,
                double baseline) {
  j.Open(key)
      .Num("seconds", f.seconds)
      .Num("fetch_seconds", f.fetch_seconds)
      .Num("plan_seconds", f.plan_seconds)
      .Num("exchange_seconds", f.exchange_seconds);
  if (cold) {
    double rate = static_cast<double>(f.records) / f.seconds;
    j.Num("rows_per_s", rate).Num("ratio_to_raw", rate / baseline);
    j.Int("cold_records", f.cold_records);
  }
  j.Int("bytes_sent", f.traffic.bytes_sent)
      .Int("bytes_received", f.traffic.bytes_received)
      .Int("round_trips", f.traffic.calls)
      .Str("mode", f.mode)
      .Str("reason", f.reason)
      .Int("pulled", f.pulled)
      .Int("pushed", f.pushed)
      .Num("client_peak_rss_mb", f.client_peak_mb)
      .Num("server_peak_rss_mb", f.server_peak_mb)
      .Close();
}

// --- The run ---

Result<std::string> RunBenchSync(const BenchConfig& c, const fs::path& dir) {
  const bool sqlite = c.store == "sqlite";
  const std::string server_uri = sqlite
                                     ? "sqlite:" + (dir / "server.db").string()
                                     : "lmdb:" + (dir / "server.lmdb").string();
  const std::string device_uri = sqlite
                                     ? "sqlite:" + (dir / "device.db").string()
                                     : "lmdb:" + (dir / "device.lmdb").string();
  std::fprintf(stderr, "syncstack: bench in %s\n", dir.c_str());

  // 1. The baseline, then the server's database: a user and N records.
  std::string raw_path = (dir / (sqlite ? "raw.db" : "raw.lmdb")).string();
  SYNCSTACK_ASSIGN_OR_RETURN(double baseline, sqlite
                                                  ? RawSqliteRate(raw_path, c)
                                                  : RawLmdbRate(raw_path, c));
  std::error_code ec;
  fs::remove_all(dir / (sqlite ? "raw.db" : "raw.lmdb"), ec);
  fs::remove(dir / "raw.db-wal", ec);
  fs::remove(dir / "raw.db-shm", ec);

  double fill_seconds = 0;
  {
    DatabaseRegistry registry;
    RegisterBuiltins(registry);
    SYNCSTACK_ASSIGN_OR_RETURN(auto database, registry.Open(server_uri));
    SYNCSTACK_RETURN_IF_ERROR(AddUser(*database, kUser, kPassword));
    SYNCSTACK_ASSIGN_OR_RETURN(auto store, database->OpenAccount(kUser));
    auto start = Steady::now();
    ChangeBatch batch;
    for (uint64_t i = 0; i < c.records; ++i) {
      Record r;
      r.collection = std::string(kCollection);
      r.id = NthId(c.seed, i);
      r.version.timestamp = kFillTime + static_cast<int64_t>(i);
      r.payload = Payload(i, 0, "fill", c.payload_bytes);
      batch.Put(std::move(r));
      if (batch.size() == kFillBatch || i + 1 == c.records) {
        SYNCSTACK_RETURN_IF_ERROR(
            store->Apply(WriteOptions{}, batch).WithContext("server fill"));
        batch.Clear();
      }
    }
    fill_seconds = Seconds(start);
  }

  // 2. The server.
  ServerProcess server;
  SYNCSTACK_RETURN_IF_ERROR(server.Start(server_uri, dir));
  HttpClientOptions http;
  http.url = server.url();
  SYNCSTACK_ASSIGN_OR_RETURN(auto transport, NewHttpTransport(http));

  // 3. Cold sync into a fresh device store.
  SYNCSTACK_ASSIGN_OR_RETURN(LocalStore device, OpenLocalStore(device_uri));
  auto policy = NewLastWriteWinsPolicy();
  SyncEngine engine(*device.store, *transport, *policy, device.schema);
  SyncOptions options;
  options.user = kUser;
  options.password = kPassword;
  options.device = "bench-device";
  options.lock_wait = std::chrono::seconds(30);
  options.mode = c.mode;
  SYNCSTACK_ASSIGN_OR_RETURN(Figures cold,
                             MeasuredSync(engine, options, server));
  cold.records = c.records;
  SYNCSTACK_RETURN_IF_ERROR(CheckEqual(*device.store, server_uri, c, -1)
                                .WithContext("after the cold sync"));

  // 4. Incremental: D changes split between the server and the device,
  // synced with the mode asked for; then D more, synced with kFull.
  auto incremental = [&](int round, SyncMode mode) -> Result<Figures> {
    SYNCSTACK_RETURN_IF_ERROR(WriteOnServer(server.url(), c, round));
    SYNCSTACK_RETURN_IF_ERROR(WriteOnDevice(*device.store, *policy, c, round));
    SyncOptions o = options;
    o.mode = mode;
    SYNCSTACK_ASSIGN_OR_RETURN(Figures f, MeasuredSync(engine, o, server));
    f.records = c.records;
    SYNCSTACK_RETURN_IF_ERROR(CheckEqual(*device.store, server_uri, c, round)
                                  .WithContext("after incremental sync " +
                                               std::to_string(round + 1)));
    return f;
  };
  SYNCSTACK_ASSIGN_OR_RETURN(Figures inc, incremental(0, c.mode));
  Figures full = inc;
  if (c.mode != SyncMode::kFull) {
    SYNCSTACK_ASSIGN_OR_RETURN(full, incremental(1, SyncMode::kFull));
  }

  // 7. Stop the server.
  device.store.reset();  // a Store must not outlive its Database
  device.database.reset();
  SYNCSTACK_RETURN_IF_ERROR(server.Stop());

  JsonLine j;
  j.Open()
      .Str("store", c.store)
      .Int("records", c.records)
      .Int("changes", c.changes)
      .Str("mode", SyncModeName(c.mode))
      .Int("payload_bytes", c.payload_bytes)
      .Int("seed", c.seed)
      .Num("baseline_rows_per_s", baseline)
      .Num("server_fill_seconds", fill_seconds)
      .Num("server_fill_rows_per_s",
           static_cast<double>(c.records) / fill_seconds);
  AddFigures(j, "cold", cold, true, baseline);
  AddFigures(j, "incremental", inc, false, baseline);
  AddFigures(j, "full", full, false, baseline);
  j.Close();
  return j.str();
}

constexpr char kBenchUsage[] =
    "syncstack bench sync --store sqlite|lmdb --records N --changes D "
    "--mode full|reconcile|auto [--payload-bytes 100] [--seed 1] "
    "[--dir TMPDIR] [--keep]";

}  // namespace

int RunBench(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "sync") {
    if (argc >= 2 && (std::string_view(argv[1]) == "--help" ||
                      std::string_view(argv[1]) == "-h")) {
      std::printf("usage: %s\n", kBenchUsage);
      return kExitOk;
    }
    std::fprintf(stderr, "syncstack: usage: %s\n", kBenchUsage);
    return kExitUsage;
  }
  po::options_description options("bench sync options");
  BenchConfig c;
  std::string mode;
  int64_t records = 0, changes = 0, payload_bytes = 100;
  options.add_options()("store", po::value(&c.store)->required(),
                        "sqlite or lmdb: the server's and the device's store")(
      "records", po::value(&records)->required(),
      "records on the server (at least 1)")(
      "changes", po::value(&changes)->required(),
      "records changed before each incremental sync, half on each side "
      "(0 to N)")("mode", po::value(&mode)->required(),
                  "sync mode: auto, full or reconcile")(
      "payload-bytes", po::value(&payload_bytes),
      "size of each record's JSON payload (16 to 1048576; default: 100)")(
      "seed", po::value(&c.seed), "seed of the record ids (default: 1)")(
      "dir", po::value(&c.parent),
      "make the working directory under this one (default: the system's "
      "temp dir)")("keep", "keep the working directory");
  po::variables_map vm;
  int exit_code = kExitOk;
  if (!ParseArgs(argc - 1, argv + 1, kBenchUsage, options, vm, exit_code)) {
    return exit_code;
  }
  auto usage = [](const std::string& message) {
    std::fprintf(stderr, "syncstack: %s (see --help)\n", message.c_str());
    return kExitUsage;
  };
  if (c.store != "sqlite" && c.store != "lmdb") {
    return usage("--store must be sqlite or lmdb, not \"" + c.store + "\"");
  }
  if (records < 1) return usage("--records must be at least 1");
  if (changes < 0 || changes > records) {
    return usage("--changes must be between 0 and --records (" +
                 std::to_string(records) + ")");
  }
  if (mode == "auto") {
    c.mode = SyncMode::kAuto;
  } else if (mode == "full") {
    c.mode = SyncMode::kFull;
  } else if (mode == "reconcile") {
    c.mode = SyncMode::kReconcile;
  } else {
    return usage("--mode must be auto, full or reconcile, not \"" + mode +
                 "\"");
  }
  if (payload_bytes < 16 || payload_bytes > (1 << 20)) {
    return usage("--payload-bytes must be between 16 and 1048576");
  }
  c.records = static_cast<uint64_t>(records);
  c.changes = static_cast<uint64_t>(changes);
  c.payload_bytes = static_cast<size_t>(payload_bytes);
  c.keep = vm.count("keep") > 0;

  fs::path parent =
      c.parent.empty() ? fs::temp_directory_path() : fs::path(c.parent);
  std::string pattern = (parent / "syncstack-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Fail("cannot make a directory under " + parent.string() + ": " +
                std::strerror(errno));
  }
  fs::path dir = pattern;
  auto line = RunBenchSync(c, dir);
  std::error_code ec;
  if (c.keep) {
    std::fprintf(stderr, "syncstack: kept %s\n", dir.c_str());
  } else {
    fs::remove_all(dir, ec);
  }
  if (!line.ok()) return Fail(line.status());
  std::printf("%s\n", line->c_str());
  return kExitOk;
}

}  // namespace syncstack::cli
