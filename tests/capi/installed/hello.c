/* Built against the installed C API: one record in, the same record out. */
#include <stdio.h>
#include <string.h>

#include "syncstack/syncstack.h"

int main(void) {
  syncstack_device* device = NULL;
  char* id = NULL;
  char* json = NULL;
  int ok;
  if (syncstack_open("memory:", &device) != SYNCSTACK_OK ||
      syncstack_put(device, "todo", NULL, "{\"title\":\"milk\"}", &id) !=
          SYNCSTACK_OK ||
      syncstack_get(device, "todo", id, &json) != SYNCSTACK_OK) {
    fprintf(stderr, "hello: %s\n", syncstack_last_error());
    return 1;
  }
  ok = strstr(json, "\"title\":\"milk\"") != NULL;
  printf("libsyncstack %s: %s\n", syncstack_version(), json);
  syncstack_free(json);
  syncstack_free(id);
  syncstack_close(device);
  return ok ? 0 : 1;
}
