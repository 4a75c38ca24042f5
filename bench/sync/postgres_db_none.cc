// ScratchPostgres in a build without PostgreSQL: nothing can be made.
#include "postgres_db.h"

namespace syncstack::bench {

Result<std::unique_ptr<ScratchPostgres>> ScratchPostgres::Create(
    const std::string&, const std::string&) {
  return Status::NotSupported(
      "this syncstack-bench-sync was built without PostgreSQL");
}

ScratchPostgres::~ScratchPostgres() = default;

Status ScratchPostgres::Analyze() const {
  return Status::NotSupported(
      "this syncstack-bench-sync was built without PostgreSQL");
}

Result<std::unique_ptr<Database>> ScratchPostgres::Open() const {
  return Status::NotSupported(
      "this syncstack-bench-sync was built without PostgreSQL");
}

}  // namespace syncstack::bench
