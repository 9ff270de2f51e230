#pragma once
// The standard process_* series (as Prometheus' Go and Python clients export them), read from
// /proc/self at scrape time: CPU seconds, resident and virtual memory, open and maximum file
// descriptors, start time. prometheus-cpp does not provide them.

#include <prometheus/metric_family.h>

#include <vector>

namespace fleet::metrics {

std::vector<prometheus::MetricFamily> collect_process_metrics();

}  // namespace fleet::metrics
