#pragma once
// Every metric family fleetd exports, in one place: name, type, help text and histogram buckets.
// Code records through these constants (a misspelt name does not compile), Metrics registers
// them all up front (so every series without labels is present from the first scrape), and a
// test checks that Documentation/monitoring.md lists each one.

#include <span>
#include <string_view>

namespace fleet::metrics {

enum class Type { counter, gauge, histogram };

struct Family {
  std::string_view name;
  Type type;
  std::string_view help;
  std::span<const double> buckets = {};  // histograms only: upper bounds, ascending
};

namespace buckets {
// Request and pass latencies: 1 ms to 10 s. An API request over etcd is a few ms; a pass at
// 100k units is seconds.
inline constexpr double kLatency[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,    1,     2.5,  5,     10};
}  // namespace buckets

namespace families {
// API (api/server/handler.cpp, cluster_routes.cpp)
inline constexpr Family api_requests{
    "fleet_api_requests_total", Type::counter,
    "API requests served, by route pattern, method and HTTP status code."};
inline constexpr Family api_request_duration{
    "fleet_api_request_duration_seconds", Type::histogram,
    "Time from a parsed API request to its response, by route pattern and HTTP status code.",
    buckets::kLatency};
inline constexpr Family api_registry_up{"fleet_api_registry_up", Type::gauge,
                                        "1 when this scrape could read the registry, else 0."};
inline constexpr Family units{"fleet_units", Type::gauge,
                              "Units in the registry by desired state (read per scrape)."};
inline constexpr Family unit_states{
    "fleet_unit_states", Type::gauge,
    "Unit states reported by agents, by systemd active state (read per scrape)."};
inline constexpr Family machines{"fleet_machines", Type::gauge,
                                 "Machines registered in the cluster (read per scrape)."};

// Engine (fed by fleetd from engine::Engine)
inline constexpr Family engine_leader{"fleet_engine_leader", Type::gauge,
                                      "1 while this fleetd holds the engine lease, else 0."};
inline constexpr Family engine_leader_start_time{
    "fleet_engine_leader_start_time_seconds", Type::gauge,
    "Unix time at which this fleetd last became engine leader (0: never)."};
inline constexpr Family engine_passes{"fleet_engine_reconcile_total", Type::counter,
                                      "Scheduling passes this fleetd has run as leader."};
inline constexpr Family engine_pass_duration{
    "fleet_engine_reconcile_duration_seconds", Type::histogram,
    "Duration of a scheduling pass: plan and registry writes.", buckets::kLatency};
inline constexpr Family engine_last_pass_duration{
    "fleet_engine_last_reconcile_duration_seconds", Type::gauge,
    "Duration of the last scheduling pass this fleetd ran."};
inline constexpr Family engine_unschedulable{
    "fleet_engine_unschedulable_units", Type::gauge,
    "Units the leader could not place in its last pass (0 when not leader)."};

// Agent (fed by fleetd from agent::Agent)
inline constexpr Family agent_units{"fleet_agent_units", Type::gauge,
                                    "Units assigned to this machine's agent."};
inline constexpr Family agent_states_published{
    "fleet_agent_states_published_total", Type::counter,
    "Unit states this machine's agent wrote to the registry."};

inline constexpr Family agent_passes{"fleet_agent_reconcile_total", Type::counter,
                                     "Reconcile passes of this machine's agent."};
inline constexpr Family agent_task_failures{
    "fleet_agent_task_failures_total", Type::counter,
    "Unit operations (load, start, stop, unload) of this machine's agent that systemd refused."};

// Registry (fed by fleetd from the etcd client)
inline constexpr Family registry_requests{
    "fleet_registry_requests_total", Type::counter,
    "Requests to etcd by operation (range, txn, put, deleterange, grant, keepalive, ...) and "
    "result (ok, error)."};
inline constexpr Family registry_request_duration{
    "fleet_registry_request_duration_seconds", Type::histogram,
    "Duration of requests to etcd by operation, retries included.", buckets::kLatency};

// Process
inline constexpr Family build_info{"fleet_build_info", Type::gauge,
                                   "Always 1; the labels carry the version fleetd was built from."};
}  // namespace families

// Every family above, in exposition order.
std::span<const Family* const> all_families();

}  // namespace fleet::metrics
