// Links syncstack::reconcile alone (no core): two item sets that differ in
// three ids reconcile to exactly those three differences.
#include <array>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "syncstack/reconcile/reconcile.h"

namespace {

syncstack::ReconcileItem Item(uint8_t n, syncstack::Timestamp ts) {
  std::array<uint8_t, 16> bytes{};
  bytes[0] = n;
  return {.id = syncstack::RecordId(bytes), .timestamp = ts};
}

}  // namespace

int main() {
  std::vector<syncstack::ReconcileItem> device, server;
  for (uint8_t n = 1; n <= 200; ++n) {
    device.push_back(Item(n, 1000 + n));
    server.push_back(Item(n, 1000 + n));
  }
  device[10].timestamp = 5;           // changed on the device
  device.pop_back();                  // missing on the device
  server.erase(server.begin() + 50);  // missing on the server
  auto mine = syncstack::NewSortedItemSource(device);
  auto theirs = syncstack::NewSortedItemSource(server);
  syncstack::ReconcileClient client(*mine);
  std::string message = client.Initiate();
  while (!message.empty()) {
    auto answer = syncstack::ReconcileRespond(*theirs, message);
    if (!answer.ok()) return 1;
    auto next = client.Process(*answer);
    if (!next.ok()) return 1;
    message = std::move(next).value();
  }
  std::printf("reconcile: %zu differences\n", client.differences().size());
  return client.differences().size() == 3 ? 0 : 1;
}
