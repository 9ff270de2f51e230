#include "common/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <variant>

#include "common/process_metrics.h"

namespace fleet::metrics {

using Slot =
    std::variant<prometheus::Family<prometheus::Counter>*, prometheus::Family<prometheus::Gauge>*,
                 prometheus::Family<prometheus::Histogram>*>;

struct Metrics::Impl {
  prometheus::Registry registry;
  std::map<std::string_view, Slot> slots;  // keyed by Family::name (static storage)

  template <typename T>
  prometheus::Family<T>* get(const Family& f) {
    auto it = slots.find(f.name);
    if (it == slots.end()) return nullptr;
    auto* p = std::get_if<prometheus::Family<T>*>(&it->second);
    return p ? *p : nullptr;
  }

  void declare(const Family& f) {
    const std::string name(f.name);
    const std::string help(f.help);
    switch (f.type) {
      case Type::counter:
        slots[f.name] = &prometheus::BuildCounter().Name(name).Help(help).Register(registry);
        break;
      case Type::gauge:
        slots[f.name] = &prometheus::BuildGauge().Name(name).Help(help).Register(registry);
        break;
      case Type::histogram:
        slots[f.name] = &prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
        break;
    }
  }
};

Metrics::Metrics(std::string version) : impl_(std::make_unique<Impl>()) {
  for (const Family* f : all_families()) impl_->declare(*f);
  // Series without labels exist from the start: a scrape right after start-up shows 0, not a
  // missing series (alerts on absent() would fire otherwise).
  for (const Family* f :
       {&families::engine_leader, &families::engine_leader_start_time, &families::engine_passes,
        &families::engine_last_pass_duration, &families::engine_unschedulable,
        &families::agent_units, &families::agent_states_published}) {
    if (f->type == Type::counter) {
      add(*f, 0);
    } else {
      set(*f, 0);
    }
  }
  set(families::build_info, 1, {{"version", std::move(version)}});
}

Metrics::~Metrics() = default;

void Metrics::add(const Family& f, double delta, const Labels& labels) {
  if (delta < 0) return;  // a counter never goes down
  if (auto* fam = impl_->get<prometheus::Counter>(f)) fam->Add(labels).Increment(delta);
}

void Metrics::advance_to(const Family& f, double total, const Labels& labels) {
  auto* fam = impl_->get<prometheus::Counter>(f);
  if (!fam) return;
  auto& c = fam->Add(labels);
  if (total > c.Value()) c.Increment(total - c.Value());
}

void Metrics::set(const Family& f, double value, const Labels& labels) {
  if (auto* fam = impl_->get<prometheus::Gauge>(f)) fam->Add(labels).Set(value);
}

void Metrics::observe(const Family& f, double value, const Labels& labels) {
  auto* fam = impl_->get<prometheus::Histogram>(f);
  if (!fam) return;
  prometheus::Histogram::BucketBoundaries bounds(f.buckets.begin(), f.buckets.end());
  fam->Add(labels, bounds).Observe(value);
}

void Metrics::clear(const Family& f) {
  // prometheus-cpp removes a series only by the pointer Add() returned; dropping the whole family
  // and registering it again is simpler and as cheap.
  auto it = impl_->slots.find(f.name);
  if (it == impl_->slots.end()) return;
  std::visit([&](auto* fam) { impl_->registry.Remove(*fam); }, it->second);
  impl_->slots.erase(it);
  impl_->declare(f);
}

double Metrics::value(const Family& f, const Labels& labels) const {
  auto it = impl_->slots.find(f.name);
  if (it == impl_->slots.end()) return 0;
  return std::visit(
      [&](auto* fam) -> double {
        if (!fam->Has(labels)) return 0;
        for (const auto& mf : fam->Collect()) {
          for (const auto& cm : mf.metric) {
            Labels got;
            for (const auto& l : cm.label) got[l.name] = l.value;
            if (got != labels) continue;
            switch (mf.type) {
              case prometheus::MetricType::Counter:
                return cm.counter.value;
              case prometheus::MetricType::Gauge:
                return cm.gauge.value;
              case prometheus::MetricType::Histogram:
                return static_cast<double>(cm.histogram.sample_count);
              default:
                return 0;
            }
          }
        }
        return 0;
      },
      it->second);
}

std::string Metrics::render() const {
  auto families = impl_->registry.Collect();
  for (auto& f : collect_process_metrics()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace fleet::metrics
