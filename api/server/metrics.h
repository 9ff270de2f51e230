#pragma once
// Metrics: a small in-process metrics registry rendered in Prometheus text format (version
// 0.0.4) on `GET /metrics`. The composition root feeds it from the engine and registry (leader,
// reconcile durations, registry latencies); the API records its own requests.
//
// Single-threaded like the rest of fleetd: call it from the io_context thread only.
// Families are created on first use; the type is fixed by the first call (add → counter,
// set → gauge, observe → summary with _sum/_count/_max). A later call of another kind on the
// same name is ignored, so a typo cannot corrupt the exposition.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleet::api::server {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  enum class Type { counter, gauge, summary };

  // Optional: sets the HELP text (and the type, if the family does not exist yet).
  void describe(std::string_view name, Type type, std::string_view help);

  void add(std::string_view name, double delta = 1, const Labels& labels = {});  // counter
  void set(std::string_view name, double value, const Labels& labels = {});      // gauge
  void observe(std::string_view name, double value, const Labels& labels = {});  // summary
  // Drops every series of a gauge family (before re-setting a labelled gauge from scratch).
  void clear(std::string_view name);

  // nullopt-like: returns 0 for absent series. For summaries: the count of observations.
  double value(std::string_view name, const Labels& labels = {}) const;
  double sum(std::string_view name, const Labels& labels = {}) const;

  // Prometheus text exposition, families sorted by name, series by labels.
  std::string render() const;

 private:
  struct Series {
    double value = 0;  // counter/gauge value; summary count
    double sum = 0;
    double max = 0;
  };
  struct Family {
    Type type = Type::counter;
    std::string help;
    std::map<std::string, Series> series;  // key: rendered label set `{a="b",c="d"}` or ""
  };
  Family* family(std::string_view name, Type type);
  const Series* find(std::string_view name, const Labels& labels) const;

  std::map<std::string, Family, std::less<>> families_;
};

// Label values are escaped per the exposition format (\\, \", \n).
std::string render_labels(const Labels& labels);

}  // namespace fleet::api::server
