/* Two devices (a phone on SQLite, a laptop on LMDB) sync through a real
 * `syncstack serve`, using only the C API. Written in C11 and compiled with
 * warnings as errors: the header must stay plain C.
 * usage: two_devices <url> <user> <password> <scratch dir>
 * (run_with_serve.py starts the server and passes the first three). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncstack/syncstack.h"

static int failures = 0;

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, \
              __LINE__, #cond, syncstack_last_error());                       \
      ++failures;                                                             \
    }                                                                         \
  } while (0)

/* Stops the test at once when a call fails: later steps depend on it. */
#define MUST(call)                                                       \
  do {                                                                   \
    syncstack_status must_status_ = (call);                              \
    if (must_status_ != SYNCSTACK_OK) {                                  \
      fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, \
              #call, syncstack_status_name(must_status_),                \
              syncstack_last_error());                                   \
      exit(1);                                                           \
    }                                                                    \
  } while (0)

struct progress_log {
  int calls;
  int saw_done;
  int went_back; /* done decreased within a phase, or passed total */
  char phase[16];
  uint64_t last_done;
};

static void on_progress(void* context, const char* phase, uint64_t done,
                        uint64_t total) {
  struct progress_log* log = (struct progress_log*)context;
  ++log->calls;
  if (strcmp(phase, "done") == 0) log->saw_done = 1;
  if (strcmp(phase, log->phase) == 0 && done < log->last_done) {
    log->went_back = 1;
  }
  if (total > 0 && done > total) log->went_back = 1;
  snprintf(log->phase, sizeof log->phase, "%s", phase);
  log->last_done = done;
}

static const char* url;
static const char* user;
static const char* password;

/* Syncs `device`; returns the report (free it). */
static char* sync_device(syncstack_device* device, const char* name,
                         struct progress_log* log) {
  syncstack_sync_options options;
  char* report = NULL;
  MUST(syncstack_sync_options_init(&options));
  options.remote = url;
  options.user = user;
  options.password = password;
  options.device = name;
  options.collections = "todo";
  options.progress = log != NULL ? on_progress : NULL;
  options.progress_context = log;
  MUST(syncstack_sync(device, &options, &report));
  printf("%s synced: %s\n", name, report);
  fflush(stdout);
  return report;
}

static int count_records(syncstack_device* device) {
  char* list = NULL;
  int n = 0;
  const char* at;
  MUST(syncstack_list(device, "todo", &list));
  for (at = list; (at = strstr(at, "\"_state\"")) != NULL; ++at) ++n;
  syncstack_free(list);
  return n;
}

static int count_each(void* context, const char* record_json) {
  int* n = (int*)context;
  if (strstr(record_json, "\"title\"") != NULL) ++*n;
  return 0;
}

int main(int argc, char** argv) {
  char phone_uri[4096], laptop_uri[4096];
  syncstack_device *phone = NULL, *laptop = NULL;
  char *milk = NULL, *eggs = NULL, *bread = NULL, *report = NULL;
  char *got = NULL, *phone_list = NULL, *laptop_list = NULL;
  struct progress_log log;
  int each = 0;
  if (argc != 5) {
    fprintf(stderr, "usage: two_devices URL USER PASSWORD DIR\n");
    return 2;
  }
  url = argv[1];
  user = argv[2];
  password = argv[3];
  snprintf(phone_uri, sizeof phone_uri, "sqlite:%s/phone.db", argv[4]);
  snprintf(laptop_uri, sizeof laptop_uri, "lmdb:%s/laptop", argv[4]);
  printf("libsyncstack %s\n", syncstack_version());
  MUST(syncstack_open(phone_uri, &phone));
  MUST(syncstack_open(laptop_uri, &laptop));

  /* Offline writes on both devices. */
  MUST(syncstack_put(phone, "todo", NULL, "{\"title\":\"milk\"}", &milk));
  MUST(syncstack_put(phone, "todo", NULL, "{\"title\":\"eggs\"}", &eggs));
  MUST(syncstack_put(laptop, "todo", NULL, "{\"title\":\"bread\"}", &bread));
  CHECK(strlen(milk) == 36);

  memset(&log, 0, sizeof log);
  report = sync_device(phone, "phone", &log);
  CHECK(strstr(report, "\"pushed_adds\":2") != NULL);
  CHECK(log.calls > 0);
  CHECK(log.saw_done);
  CHECK(!log.went_back);
  syncstack_free(report);

  report = sync_device(laptop, "laptop", NULL);
  CHECK(strstr(report, "\"pushed_adds\":1") != NULL);
  CHECK(strstr(report, "\"fetched_new\":2") != NULL);
  syncstack_free(report);
  CHECK(count_records(laptop) == 3);

  /* The laptop edits milk while the phone deletes eggs; each syncs (every
   * login costs the server an Argon2id check: five syncs in all). */
  MUST(syncstack_put(laptop, "todo", milk, "{\"title\":\"oat milk\"}", NULL));
  MUST(syncstack_delete(phone, "todo", eggs));
  report = sync_device(phone, "phone", NULL);
  CHECK(strstr(report, "\"fetched_new\":1") != NULL);
  CHECK(strstr(report, "\"pushed_deletes\":1") != NULL);
  syncstack_free(report);
  report = sync_device(laptop, "laptop", NULL);
  CHECK(strstr(report, "\"pushed_updates\":1") != NULL);
  CHECK(strstr(report, "\"deleted_here\":1") != NULL);
  syncstack_free(report);
  syncstack_free(sync_device(phone, "phone", NULL));

  MUST(syncstack_get(phone, "todo", milk, &got));
  CHECK(strstr(got, "\"title\":\"oat milk\"") != NULL);
  CHECK(strstr(got, "\"_state\":\"synced\"") != NULL);
  syncstack_free(got);
  got = NULL;
  CHECK(syncstack_get(laptop, "todo", eggs, &got) == SYNCSTACK_NOT_FOUND);
  CHECK(got == NULL);
  CHECK(strstr(syncstack_last_error(), eggs) != NULL);

  /* Both devices now hold the same records, byte for byte. */
  MUST(syncstack_list(phone, "todo", &phone_list));
  MUST(syncstack_list(laptop, "todo", &laptop_list));
  CHECK(strcmp(phone_list, laptop_list) == 0);
  CHECK(count_records(phone) == 2);
  MUST(syncstack_list_each(laptop, "todo", count_each, &each));
  CHECK(each == 2);

  /* A wrong password is refused with a message, and changes nothing. */
  {
    syncstack_sync_options options;
    MUST(syncstack_sync_options_init(&options));
    options.remote = url;
    options.user = user;
    options.password = "wrong";
    CHECK(syncstack_sync(phone, &options, NULL) == SYNCSTACK_UNAUTHORIZED);
    CHECK(strlen(syncstack_last_error()) > 0);
    CHECK(count_records(phone) == 2);
  }

  syncstack_free(phone_list);
  syncstack_free(laptop_list);
  syncstack_free(milk);
  syncstack_free(eggs);
  syncstack_free(bread);
  MUST(syncstack_close(phone));
  MUST(syncstack_close(laptop));
  if (failures > 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("two devices converged through %s\n", url);
  return 0;
}
