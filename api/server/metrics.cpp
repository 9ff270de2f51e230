#include "api/server/metrics.h"

#include <cmath>
#include <cstdio>

namespace fleet::api::server {

namespace {

std::string escape_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string_view type_name(Metrics::Type t) {
  switch (t) {
    case Metrics::Type::counter:
      return "counter";
    case Metrics::Type::gauge:
      return "gauge";
    case Metrics::Type::summary:
      return "summary";
  }
  return "untyped";
}

}  // namespace

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first;
    out += "=\"";
    out += escape_label(labels[i].second);
    out += '"';
  }
  out += '}';
  return out;
}

Metrics::Family* Metrics::family(std::string_view name, Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;
    it->second.type = type;
  }
  return it->second.type == type ? &it->second : nullptr;
}

void Metrics::describe(std::string_view name, Type type, std::string_view help) {
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{type, {}, {}}).first;
  it->second.help = std::string(help);
}

void Metrics::add(std::string_view name, double delta, const Labels& labels) {
  if (auto* f = family(name, Type::counter)) f->series[render_labels(labels)].value += delta;
}

void Metrics::set(std::string_view name, double value, const Labels& labels) {
  if (auto* f = family(name, Type::gauge)) f->series[render_labels(labels)].value = value;
}

void Metrics::observe(std::string_view name, double value, const Labels& labels) {
  auto* f = family(name, Type::summary);
  if (!f) return;
  auto& s = f->series[render_labels(labels)];
  if (s.value == 0 || value > s.max) s.max = value;
  s.value += 1;
  s.sum += value;
}

void Metrics::clear(std::string_view name) {
  auto it = families_.find(name);
  if (it != families_.end()) it->second.series.clear();
}

const Metrics::Series* Metrics::find(std::string_view name, const Labels& labels) const {
  auto it = families_.find(name);
  if (it == families_.end()) return nullptr;
  auto s = it->second.series.find(render_labels(labels));
  return s == it->second.series.end() ? nullptr : &s->second;
}

double Metrics::value(std::string_view name, const Labels& labels) const {
  const auto* s = find(name, labels);
  return s ? s->value : 0;
}

double Metrics::sum(std::string_view name, const Labels& labels) const {
  const auto* s = find(name, labels);
  return s ? s->sum : 0;
}

std::string Metrics::render() const {
  std::string out;
  for (const auto& [name, f] : families_) {
    if (f.series.empty()) continue;
    if (!f.help.empty()) out += "# HELP " + name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + name + " " + std::string(type_name(f.type)) + "\n";
    for (const auto& [labels, s] : f.series) {
      if (f.type == Type::summary) {
        out += name + "_sum" + labels + " " + format_value(s.sum) + "\n";
        out += name + "_count" + labels + " " + format_value(s.value) + "\n";
      } else {
        out += name + labels + " " + format_value(s.value) + "\n";
      }
    }
    // The maximum is a separate gauge family: a summary may only carry _sum and _count.
    if (f.type == Type::summary) {
      out += "# TYPE " + name + "_max gauge\n";
      for (const auto& [labels, s] : f.series)
        out += name + "_max" + labels + " " + format_value(s.max) + "\n";
    }
  }
  return out;
}

}  // namespace fleet::api::server
