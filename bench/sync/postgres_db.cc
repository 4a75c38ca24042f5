#include "postgres_db.h"

#include <libpq-fe.h>

#include <cstdio>
#include <string_view>

#include "syncstack/postgres/postgres_store.h"

namespace syncstack::bench {
namespace {

// A value quoted for a conninfo "key='value'" pair.
std::string Quoted(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// `conninfo` (key/value pairs or a URI) as key/value pairs with dbname set
// to `dbname`. Errors: kInvalidArgument with libpq's reason.
Result<std::string> WithDatabase(const std::string& conninfo,
                                 const std::string& dbname) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    Status s = Status::InvalidArgument(
        "not a PostgreSQL conninfo: \"" + conninfo +
        "\": " + (error != nullptr ? error : "out of memory"));
    PQfreemem(error);
    return s;
  }
  std::string out = "dbname=" + Quoted(dbname);
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::string_view(o->keyword) == "dbname") {
      continue;
    }
    out += std::string(" ") + o->keyword + "=" + Quoted(o->val);
  }
  PQconninfoFree(options);
  return out;
}

// Runs `sql` on a fresh connection to `conninfo`.
// Errors: kUnavailable (cannot connect), kIOError (the statement failed).
Status Execute(const std::string& conninfo, const std::string& sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  Status status;
  if (PQstatus(conn) != CONNECTION_OK) {
    status = Status::Unavailable("no PostgreSQL server reachable at \"" +
                                 conninfo + "\": " + PQerrorMessage(conn));
  } else {
    PGresult* r = PQexec(conn, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      status = Status::IOError(sql + ": " + PQerrorMessage(conn));
    }
    PQclear(r);
  }
  PQfinish(conn);
  return status;
}

}  // namespace

Result<std::unique_ptr<ScratchPostgres>> ScratchPostgres::Create(
    const std::string& server_conninfo, const std::string& name) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::string conninfo,
                             WithDatabase(server_conninfo, name));
  SYNCSTACK_RETURN_IF_ERROR(
      Execute(server_conninfo, "CREATE DATABASE \"" + name + "\""));
  std::unique_ptr<ScratchPostgres> db(new ScratchPostgres);
  db->server_conninfo_ = server_conninfo;
  db->name_ = name;
  db->conninfo_ = std::move(conninfo);
  return db;
}

ScratchPostgres::~ScratchPostgres() {
  if (keep_) return;
  Status s = Execute(server_conninfo_,
                     "DROP DATABASE IF EXISTS \"" + name_ + "\" WITH (FORCE)");
  if (!s.ok()) {
    std::fprintf(stderr, "syncstack-bench-sync: dropping %s: %s\n",
                 name_.c_str(), s.message().c_str());
  }
}

Status ScratchPostgres::Analyze() const {
  return Execute(conninfo_, "ANALYZE");
}

Result<std::unique_ptr<Database>> ScratchPostgres::Open() const {
  PostgresDatabaseOptions options;
  options.conninfo = conninfo_;
  return OpenPostgresDatabase(options);
}

}  // namespace syncstack::bench
