// The PostgreSQL database a run's server keeps its store in
// (--server-store postgres): made empty for the run on the server a
// conninfo names, dropped after it.
#pragma once

#include <memory>
#include <string>

#include "syncstack/status.h"
#include "syncstack/store.h"

namespace syncstack::bench {

class ScratchPostgres {
 public:
  // Connects to the server `server_conninfo` names (a libpq conninfo or
  // URI) and creates the empty database `name` there.
  // Errors: kUnavailable when no server answers (the message names the
  // conninfo and libpq's reason), kIOError when CREATE DATABASE fails,
  // kNotSupported when this program was built without PostgreSQL.
  // REQUIRES: `name` is a plain lower-case identifier.
  static Result<std::unique_ptr<ScratchPostgres>> Create(
      const std::string& server_conninfo, const std::string& name);

  ScratchPostgres(const ScratchPostgres&) = delete;
  ScratchPostgres& operator=(const ScratchPostgres&) = delete;
  // Drops the database, closing any connection left to it, unless Keep()
  // was called; a failure is reported on stderr.
  ~ScratchPostgres();

  const std::string& name() const { return name_; }
  // The database's conninfo: the server's, with dbname replaced.
  const std::string& conninfo() const { return conninfo_; }
  // Leaves the database in place when this object ends.
  void Keep() { keep_ = true; }

  // Gathers the planner's statistics of every table (ANALYZE).
  // Errors: kUnavailable, kIOError.
  Status Analyze() const;

  // Opens the database as `syncstack serve --store postgres:CONNINFO`
  // does (schema "syncstack", created if missing; no mapped tables). The
  // handle may outlive this object (but not the database's drop).
  // Errors: those of OpenPostgresDatabase.
  Result<std::unique_ptr<Database>> Open() const;

 private:
  ScratchPostgres() = default;

  std::string server_conninfo_;  // where DROP DATABASE is sent from
  std::string name_, conninfo_;
  bool keep_ = false;
};

}  // namespace syncstack::bench
