// Prometheus metrics for a SyncService: a ServiceObserver that counts what
// the service reports and answers GET /metrics in the Prometheus text
// format. Built on prometheus-cpp's core library (Registry and
// TextSerializer); the HTTP side stays the service's own server.
//
// The metrics (docs/operations.md explains each):
//   syncstack_http_requests_total{endpoint,status}          counter
//   syncstack_http_request_duration_seconds{endpoint}       histogram
//   syncstack_sync_duration_seconds                         histogram
//   syncstack_records_written_total{kind}                   counter
//   syncstack_conflicts_total{policy}                       counter
//   syncstack_lock_waits_total                              counter
//   syncstack_login_failures_total                          counter
//   syncstack_active_connections                            gauge
//   syncstack_store_apply_seconds                           histogram
// Labels take values from fixed sets only (endpoint names, HTTP statuses,
// write kinds, policy names): never a user, device or record.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "syncstack/service_observer.h"
#include "syncstack/status.h"

namespace syncstack {

struct PrometheusObserverOptions {
  // Upper bounds (seconds) of syncstack_sync_duration_seconds' buckets.
  // Default: 0.01 s to 300 s.
  std::vector<double> session_buckets = {0.01, 0.05, 0.1, 0.25, 0.5, 1,  2.5,
                                         5,    10,   30,  60,   120, 300};
  // Upper bounds (seconds) of syncstack_http_request_duration_seconds.
  // Default: 1 ms to 30 s.
  std::vector<double> request_buckets = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,  0.1,    0.25,  0.5,  1,
                                         2.5,   5,      10,    30};
  // Upper bounds (seconds) of syncstack_store_apply_seconds.
  // Default: 0.1 ms to 10 s.
  std::vector<double> store_buckets = {0.0001, 0.0005, 0.001, 0.0025, 0.005,
                                       0.01,   0.025,  0.05,  0.1,    0.25,
                                       0.5,    1,      2.5,   10};
  // Conflict policies whose syncstack_conflicts_total series exist from
  // the start at 0 (others appear at their first conflict), so that a
  // rate() sees the first increase. Default: none.
  std::vector<std::string> policies;
  // Read at every scrape for syncstack_active_connections (e.g. the HTTP
  // server's open connections); called from request threads. Default:
  // none (the gauge stays 0).
  std::function<size_t()> active_connections;
};

// A ServiceObserver keeping the metrics above; its WriteMetrics answers
// GET /metrics. Thread safety: all methods may be called concurrently.
// Errors: kInvalidArgument (buckets not strictly increasing or empty).
Result<std::unique_ptr<ServiceObserver>> NewPrometheusObserver(
    PrometheusObserverOptions options = {});

}  // namespace syncstack
