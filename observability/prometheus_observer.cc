// The Prometheus observer: prometheus-cpp families, one series per label
// set, looked up once and then kept (the request path allocates nothing).
#include "syncstack/observability/prometheus_observer.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string>

namespace syncstack {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

constexpr size_t kEndpoints = static_cast<size_t>(Endpoint::kOther) + 1;
constexpr int kFirstStatus = 100;
constexpr int kLastStatus = 599;
constexpr size_t kStatuses = kLastStatus - kFirstStatus + 1;

double Seconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}

bool Increasing(const std::vector<double>& bounds) {
  if (bounds.empty()) return false;
  return std::adjacent_find(bounds.begin(), bounds.end(),
                            [](double a, double b) { return a >= b; }) ==
         bounds.end();
}

class PrometheusObserver final : public ServiceObserver {
 public:
  explicit PrometheusObserver(PrometheusObserverOptions options)
      : options_(std::move(options)),
        requests_(prometheus::BuildCounter()
                      .Name("syncstack_http_requests_total")
                      .Help("Requests answered, by endpoint and HTTP status")
                      .Register(registry_)),
        request_seconds_(prometheus::BuildHistogram()
                             .Name("syncstack_http_request_duration_seconds")
                             .Help("Time to answer a request, by endpoint")
                             .Register(registry_)),
        sessions_(prometheus::BuildHistogram()
                      .Name("syncstack_sync_duration_seconds")
                      .Help("Whole sync sessions, from the lock's grant to "
                            "its release")
                      .Register(registry_)
                      .Add({}, options_.session_buckets)),
        written_(prometheus::BuildCounter()
                     .Name("syncstack_records_written_total")
                     .Help("Records written by devices' syncs, by kind "
                           "(add, update, delete)")
                     .Register(registry_)),
        conflicts_(prometheus::BuildCounter()
                       .Name("syncstack_conflicts_total")
                       .Help("Conflicts resolved, by conflict policy")
                       .Register(registry_)),
        lock_waits_(prometheus::BuildCounter()
                        .Name("syncstack_lock_waits_total")
                        .Help("Lock requests answered 423: another device "
                              "of the account held the lock")
                        .Register(registry_)
                        .Add({})),
        login_failures_(prometheus::BuildCounter()
                            .Name("syncstack_login_failures_total")
                            .Help("Logins refused for a wrong user name or "
                                  "password")
                            .Register(registry_)
                            .Add({})),
        connections_(prometheus::BuildGauge()
                         .Name("syncstack_active_connections")
                         .Help("HTTP connections open now")
                         .Register(registry_)
                         .Add({})),
        store_apply_(prometheus::BuildHistogram()
                         .Name("syncstack_store_apply_seconds")
                         .Help("Time of one store transaction of the write "
                               "path (Store::Apply)")
                         .Register(registry_)
                         .Add({}, options_.store_buckets)) {
    for (WriteKind kind :
         {WriteKind::kAdd, WriteKind::kUpdate, WriteKind::kDelete}) {
      kinds_[static_cast<size_t>(kind)] =
          &written_.Add({{"kind", std::string(WriteKindName(kind))}});
    }
    for (const std::string& policy : options_.policies) OnConflicts(policy, 0);
  }

  void OnRequest(const RequestEvent& event) noexcept override {
    try {
      RequestCounter(event.endpoint, event.status).Increment();
      RequestHistogram(event.endpoint).Observe(Seconds(event.duration));
    } catch (const std::exception&) {
      // Out of memory: this request goes uncounted.
    }
  }

  void OnSyncSession(std::chrono::nanoseconds duration) noexcept override {
    sessions_.Observe(Seconds(duration));
  }

  void OnRecordsWritten(WriteKind kind, uint64_t count) noexcept override {
    kinds_[static_cast<size_t>(kind)]->Increment(static_cast<double>(count));
  }

  void OnConflicts(std::string_view policy, uint64_t count) noexcept override {
    try {
      std::lock_guard<std::mutex> guard(conflicts_mu_);
      auto it = conflicts_by_policy_.find(policy);
      if (it == conflicts_by_policy_.end()) {
        Counter& added = conflicts_.Add({{"policy", std::string(policy)}});
        it = conflicts_by_policy_.emplace(std::string(policy), &added).first;
      }
      it->second->Increment(static_cast<double>(count));
    } catch (const std::exception&) {
    }
  }

  void OnLockWait() noexcept override { lock_waits_.Increment(); }
  void OnLoginFailure() noexcept override { login_failures_.Increment(); }

  void OnStoreApply(std::chrono::nanoseconds duration) noexcept override {
    store_apply_.Observe(Seconds(duration));
  }

  bool WriteMetrics(std::string& out) noexcept override {
    try {
      if (options_.active_connections) {
        connections_.Set(static_cast<double>(options_.active_connections()));
      }
      out = prometheus::TextSerializer().Serialize(registry_.Collect());
      return true;
    } catch (const std::exception&) {
      out.clear();
      return false;
    }
  }

 private:
  // The series of (endpoint, status), added on first use. A status outside
  // 100..599 (never answered) counts as 500.
  Counter& RequestCounter(Endpoint endpoint, int status) {
    if (status < kFirstStatus || status > kLastStatus) status = 500;
    const size_t slot = static_cast<size_t>(endpoint) * kStatuses +
                        static_cast<size_t>(status - kFirstStatus);
    Counter* counter = by_status_[slot].load(std::memory_order_acquire);
    if (counter != nullptr) return *counter;
    // Family::Add is thread-safe and gives the existing series for labels
    // it has, so two threads racing here get the same one.
    counter = &requests_.Add({{"endpoint", std::string(EndpointName(endpoint))},
                              {"status", std::to_string(status)}});
    by_status_[slot].store(counter, std::memory_order_release);
    return *counter;
  }

  Histogram& RequestHistogram(Endpoint endpoint) {
    const size_t slot = static_cast<size_t>(endpoint);
    Histogram* histogram = by_endpoint_[slot].load(std::memory_order_acquire);
    if (histogram != nullptr) return *histogram;
    histogram = &request_seconds_.Add(
        {{"endpoint", std::string(EndpointName(endpoint))}},
        options_.request_buckets);
    by_endpoint_[slot].store(histogram, std::memory_order_release);
    return *histogram;
  }

  const PrometheusObserverOptions options_;
  prometheus::Registry registry_;
  Family<Counter>& requests_;
  Family<Histogram>& request_seconds_;
  Histogram& sessions_;
  Family<Counter>& written_;
  Family<Counter>& conflicts_;
  Counter& lock_waits_;
  Counter& login_failures_;
  Gauge& connections_;
  Histogram& store_apply_;

  std::array<std::atomic<Counter*>, kEndpoints * kStatuses> by_status_{};
  std::array<std::atomic<Histogram*>, kEndpoints> by_endpoint_{};
  std::array<Counter*, 3> kinds_{};
  std::mutex conflicts_mu_;
  std::map<std::string, Counter*, std::less<>> conflicts_by_policy_;
};

}  // namespace

Result<std::unique_ptr<ServiceObserver>> NewPrometheusObserver(
    PrometheusObserverOptions options) {
  for (const auto* bounds : {&options.session_buckets, &options.request_buckets,
                             &options.store_buckets}) {
    if (!Increasing(*bounds)) {
      return Status::InvalidArgument(
          "prometheus observer: bucket bounds must be strictly increasing "
          "and not empty");
    }
  }
  try {
    return std::unique_ptr<ServiceObserver>(
        std::make_unique<PrometheusObserver>(std::move(options)));
  } catch (const std::exception& e) {
    return Status::IOError(std::string("prometheus observer: ") + e.what());
  }
}

}  // namespace syncstack
