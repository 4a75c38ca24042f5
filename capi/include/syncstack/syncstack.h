/* syncstack's C API: a device's store and its sync, for apps written in C,
 * Swift, Kotlin (JNI), Python (ctypes) or anything else that calls C.
 *
 * The header compiles as C11 and as C++; no C++ type crosses it. Handles
 * are opaque pointers. docs/c-api.md is the guide; this file is the
 * reference.
 *
 * Errors: every function returns a syncstack_status. SYNCSTACK_OK (0) is
 * success; on any other status nothing was changed (except by a failed
 * sync, which keeps what it applied consistently: the next sync continues)
 * and syncstack_last_error() gives one line saying what went wrong.
 *
 * Who frees what (the one rule): every string the library hands out
 * through a `char** out` parameter is the caller's and is freed with
 * syncstack_free(). Strings passed to a callback are the library's and are
 * valid only during the call. `const char*` results (syncstack_last_error,
 * syncstack_status_name, syncstack_version) are never freed. Strings the
 * caller passes in are only read during the call. A handle is freed with
 * syncstack_close().
 *
 * Text: every string is NUL-terminated UTF-8. Record ids are UUIDs in text
 * form ("0b5e7d2c-...").
 *
 * Thread safety: written per function ("Thread safety:" lines). In short:
 * a device handle may be used from several threads at once, except that
 * syncstack_close() must not overlap any other call on it; syncs of one
 * device run one at a time (a second waits for the first). Callbacks run
 * on the calling thread, before the call returns.
 */
#ifndef SYNCSTACK_SYNCSTACK_H_
#define SYNCSTACK_SYNCSTACK_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(SYNCSTACK_C_BUILDING)
#define SYNCSTACK_API __declspec(dllexport)
#else
#define SYNCSTACK_API __declspec(dllimport)
#endif
#else
#define SYNCSTACK_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The outcome of a call. The values are stable across versions. */
typedef enum syncstack_status {
  SYNCSTACK_OK = 0,
  SYNCSTACK_INVALID_ARGUMENT = 1, /* bad input: nothing was changed */
  SYNCSTACK_NOT_FOUND = 2,
  SYNCSTACK_UNAUTHORIZED = 3, /* wrong user or password */
  SYNCSTACK_LOCKED = 4,       /* another device of the account is syncing */
  SYNCSTACK_LEASE_LOST = 5,
  SYNCSTACK_LEASE_REQUIRED = 6,
  SYNCSTACK_CONFLICT = 7, /* a failed precondition (not a sync conflict) */
  SYNCSTACK_TOO_LARGE = 8,
  SYNCSTACK_UNAVAILABLE = 9, /* transient (network, server busy): retry */
  SYNCSTACK_IO_ERROR = 10,
  SYNCSTACK_CORRUPTION = 11,
  SYNCSTACK_NOT_SUPPORTED = 12, /* an option this build cannot honour */
  SYNCSTACK_ABORTED = 13,  /* stopped on purpose (the mass-deletion guard) */
  SYNCSTACK_INTERNAL = 100 /* an unexpected failure inside the library */
} syncstack_status;

/* A device's local store, opened by syncstack_open. */
typedef struct syncstack_device syncstack_device;

/* The library's version, e.g. "0.1.0". Never freed.
 * Thread safety: any thread. */
SYNCSTACK_API const char* syncstack_version(void);

/* The status's name, e.g. "invalid_argument"; "unknown" for a value not in
 * the enum. Never freed. Thread safety: any thread. */
SYNCSTACK_API const char* syncstack_status_name(syncstack_status status);

/* The message of the last call on this thread that failed, or "" when the
 * last call on this thread succeeded. Valid until the next syncstack_ call
 * on this thread; never freed. (Per thread: a failure on another thread
 * never overwrites it.) Thread safety: any thread. */
SYNCSTACK_API const char* syncstack_last_error(void);

/* Frees a string the library returned through a `char**` parameter.
 * NULL is allowed. Thread safety: any thread. */
SYNCSTACK_API void syncstack_free(void* p);

/* Opens (creating if missing) a device's store: "sqlite:PATH",
 * "lmdb:DIR" or "memory:" (private to this handle, gone at close).
 * On success *out is a handle to close with syncstack_close.
 * Errors: SYNCSTACK_INVALID_ARGUMENT (NULL argument, unknown scheme, or a
 * scheme without its path), SYNCSTACK_IO_ERROR, SYNCSTACK_CORRUPTION.
 * Thread safety: any thread; the same SQLite file or LMDB folder may be
 * opened by several handles (and processes). */
SYNCSTACK_API syncstack_status syncstack_open(const char* uri,
                                              syncstack_device** out);

/* Closes the store and frees the handle. NULL is allowed (SYNCSTACK_OK).
 * Thread safety: no other call on this handle may run during or after it. */
SYNCSTACK_API syncstack_status syncstack_close(syncstack_device* device);

/* Creates or replaces a record of `collection` from `json`, a JSON object.
 * The id: `id` when not NULL, else the object's id key ("id", or the key
 * the server's schema names for the collection), else a new random UUID;
 * an `id` that differs from the object's id key is an error. A
 * "last_update" member is ignored (the library stamps the write).
 * If `id_out` is not NULL it receives the record's id (free it).
 * Errors: SYNCSTACK_INVALID_ARGUMENT (NULL argument, bad collection name,
 * bad JSON, not an object, bad id), SYNCSTACK_IO_ERROR.
 * Thread safety: any thread, concurrently with other calls on the device
 * (a sync running meanwhile pushes the write at its next run). */
SYNCSTACK_API syncstack_status syncstack_put(syncstack_device* device,
                                             const char* collection,
                                             const char* id, const char* json,
                                             char** id_out);

/* Deletes the live record `id` of `collection` (a tombstone until the next
 * sync pushes the delete).
 * Errors: SYNCSTACK_INVALID_ARGUMENT (NULL argument, bad collection name or
 * id), SYNCSTACK_NOT_FOUND (no live record), SYNCSTACK_IO_ERROR.
 * Thread safety: as syncstack_put. */
SYNCSTACK_API syncstack_status syncstack_delete(syncstack_device* device,
                                                const char* collection,
                                                const char* id);

/* The live record `id` of `collection` as a JSON object: the app's members
 * plus the id key, "last_update" ("YYYY-MM-DD HH:MM:SS.mmm", UTC) and
 * "_state" (created, changed, deleted or synced). *json_out is freed with
 * syncstack_free.
 * Errors: SYNCSTACK_INVALID_ARGUMENT (NULL argument, bad collection name or
 * id), SYNCSTACK_NOT_FOUND (no live record), SYNCSTACK_IO_ERROR.
 * Thread safety: any thread, concurrently with other calls on the device. */
SYNCSTACK_API syncstack_status syncstack_get(syncstack_device* device,
                                             const char* collection,
                                             const char* id, char** json_out);

/* The live records of `collection` as one JSON array of the objects
 * syncstack_get returns, in id order. Errors and thread safety: as
 * syncstack_get (a collection without records gives "[]"). */
SYNCSTACK_API syncstack_status syncstack_list(syncstack_device* device,
                                              const char* collection,
                                              char** json_array_out);

/* Called once per record by syncstack_list_each with the object
 * syncstack_get would return (valid only during the call). Return 0 to go
 * on, anything else to stop the listing (syncstack_list_each then returns
 * SYNCSTACK_ABORTED). */
typedef int (*syncstack_record_fn)(void* context, const char* record_json);

/* Calls `fn` for each live record of `collection` in id order, without
 * building the whole array: for large collections. `fn` must not call
 * syncstack_close on this device. Errors: as syncstack_list, and
 * SYNCSTACK_ABORTED when `fn` stopped it. Thread safety: as syncstack_get. */
SYNCSTACK_API syncstack_status syncstack_list_each(syncstack_device* device,
                                                   const char* collection,
                                                   syncstack_record_fn fn,
                                                   void* context);

/* The names of the collections holding records (tombstones included) as a
 * JSON array of strings, sorted. Thread safety: as syncstack_get. */
SYNCSTACK_API syncstack_status syncstack_collections(syncstack_device* device,
                                                     char** json_array_out);

/* Progress of a sync: `phase` is "lock", "fetch", "plan", "exchange" or
 * "done" (valid only during the call); within a phase `done` never
 * decreases and never passes `total`. Called on the thread that called
 * syncstack_sync. It must not call syncstack_sync or syncstack_close on the
 * same device. */
typedef void (*syncstack_progress_fn)(void* context, const char* phase,
                                      uint64_t done, uint64_t total);

/* What syncstack_sync takes. Fill it with syncstack_sync_options_init,
 * then set the fields you need; NULL strings mean "not given". The
 * library only reads the strings during the call. */
typedef struct syncstack_sync_options {
  /* sizeof(syncstack_sync_options), set by syncstack_sync_options_init:
   * lets later versions add fields at the end. */
  size_t struct_size;
  /* The server: "http://HOST:PORT". Required. */
  const char* remote;
  /* The account. Required. */
  const char* user;
  /* The account's password. Required unless `token` is given. */
  const char* password;
  /* A session token instead of the password: not supported by this
   * version (SYNCSTACK_NOT_SUPPORTED); give the password. */
  const char* token;
  /* This device's name (it names the lock holder). Default: the name kept
   * in the store, else one made up once and kept. */
  const char* device;
  /* Comma-separated collections to sync. Default: every collection, local
   * or on the server. */
  const char* collections;
  /* "auto", "full", "reconcile" or "changes" (see `syncstack sync --mode`).
   * Default: "auto". */
  const char* mode;
  /* A PEM file of certificate authorities to trust for an https:// remote.
   * SYNCSTACK_NOT_SUPPORTED while this build's HTTP transport has no TLS. */
  const char* ca_file;
  /* Longest wait, in milliseconds, while another device of the account
   * holds the lock. Default: 60000. */
  int64_t lock_wait_ms;
  /* Non-zero: delete local records even when the server lacks most of
   * them (the mass-deletion guard is off). Default: 0. */
  int allow_mass_delete;
  /* Called with progress; NULL for none. Default: NULL. */
  syncstack_progress_fn progress;
  void* progress_context;
} syncstack_sync_options;

/* Sets every field of `options` to its default. Returns
 * SYNCSTACK_INVALID_ARGUMENT for NULL. Thread safety: any thread. */
SYNCSTACK_API syncstack_status
syncstack_sync_options_init(syncstack_sync_options* options);

/* Runs one sync of the device with its server: the seed's three cases
 * under the server's lock, the server's conflict policy (learned at login
 * and kept in the store). If `report_json_out` is not NULL it receives the
 * report as a JSON object (free it):
 *   {"mode":"full","mode_reason":"...",
 *    "cases":{"fetched_new":0,"pulled":0,"pushed_updates":0,"unchanged":0,
 *             "pushed_adds":0,"deleted_here":0,"pushed_deletes":0,
 *             "dropped_tombstones":0,"repushed":0},
 *    "conflicts":[{"collection":"todo","id":"...","what":"...",
 *                  "kept":"server"}],
 *    "skipped_local_edits":0,"calls":0,"bytes_sent":0,"bytes_received":0,
 *    "synchronise_calls":0,"resynced":false,"server_restored":false,
 *    "clock_offset_ms":null,"restamped":0,
 *    "time_us":{"lock":0,"fetch":0,"plan":0,"exchange":0,"total":0}}
 * Errors: SYNCSTACK_INVALID_ARGUMENT (NULL device or options, a missing
 * remote or user or password, a bad mode, remote URL or collection name;
 * checked before anything is sent), SYNCSTACK_NOT_SUPPORTED (token,
 * ca_file), SYNCSTACK_UNAUTHORIZED, SYNCSTACK_LOCKED (the lock wait ran
 * out), SYNCSTACK_LEASE_LOST, SYNCSTACK_UNAVAILABLE (the server cannot be
 * reached: retry later), SYNCSTACK_ABORTED (the mass-deletion guard;
 * nothing was deleted), SYNCSTACK_IO_ERROR, and protocol errors. After a
 * failure what was applied stays applied; the next sync continues.
 * Thread safety: any thread; syncs of one device run one at a time (a
 * second call waits); puts, deletes and reads may run meanwhile. */
SYNCSTACK_API syncstack_status
syncstack_sync(syncstack_device* device, const syncstack_sync_options* options,
               char** report_json_out);

/* Runs the policy simulator (`syncstack simulate`; docs/simulator.md):
 * simulated devices with skewed clocks edit offline over a lossy network
 * and sync through the real engine and service, once per policy and clock
 * skew. `options_json` is a JSON object (NULL or "{}" for every default):
 *   {"devices":3,"records":20,"ops":200,"offline":0.5,
 *    "skew":0 or [0,5,60] (seconds),"drift_ppm":0,"loss":0,"seed":1,
 *    "clock_jump_years":0,"max_clock_ahead_seconds":300 (null: no bound),
 *    "interval_ms":1000,"store":"memory" or "sqlite",
 *    "policies":"all" or ["lww","server-clock",...]}
 * An unknown member is an error. *rows_json_out receives a JSON array,
 * one object per (skew, policy) in that order, with the members of
 * `syncstack simulate --csv` (policy, skew_seconds, converged,
 * quiescence_rounds, writes, deletes, lost_updates, silent_lost_updates,
 * conflicts, resurrected_deletes, bytes, messages, sync_calls,
 * failed_syncs, restamped, first_error); free it.
 * Errors: SYNCSTACK_INVALID_ARGUMENT (bad JSON, unknown member or policy,
 * a value out of range), SYNCSTACK_IO_ERROR.
 * Thread safety: any thread; runs share nothing. */
SYNCSTACK_API syncstack_status syncstack_simulate(const char* options_json,
                                                  char** rows_json_out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SYNCSTACK_SYNCSTACK_H_ */
