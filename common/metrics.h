#pragma once
// fleetd's metrics registry: the families of metric_families.h kept in a prometheus-cpp
// registry (the reference C++ client: its text serializer is what `promtool check metrics`
// expects), plus process metrics read from /proc at each scrape, rendered in the Prometheus text
// format 0.0.4 on `GET /metrics`.
//
// Callers name a family by its constant, so a typo does not compile and a family is always of
// the type it was declared with. Label sets must stay bounded (route patterns, not paths).

#include <map>
#include <memory>
#include <string>

#include "common/metric_families.h"

namespace fleet::metrics {

using Labels = std::map<std::string, std::string>;

class Metrics {
 public:
  // Registers every family of all_families(); families without labels start at 0, and
  // fleet_build_info carries `version`.
  explicit Metrics(std::string version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void add(const Family& counter, double delta = 1, const Labels& labels = {});
  // For a counter kept as a running total elsewhere (engine and agent stats): adds the
  // difference to `total`; a total that went down (the source restarted) adds nothing.
  void advance_to(const Family& counter, double total, const Labels& labels = {});
  void set(const Family& gauge, double value, const Labels& labels = {});
  void observe(const Family& histogram, double value, const Labels& labels = {});
  // Drops every series of a family (a labelled gauge about to be set afresh).
  void clear(const Family& family);

  // Counter or gauge value; a histogram's observation count. 0 for a series never written.
  double value(const Family& family, const Labels& labels = {}) const;

  std::string render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleet::metrics
