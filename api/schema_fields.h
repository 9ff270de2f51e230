#pragma once
// Folder-private: one list of (JSON key, member) per API entity, shared by the DOM codecs
// (schema.cpp) and the streaming page reader (page_reader.cpp), so encoder and decoders cannot
// drift apart.

#include <concepts>
#include <type_traits>

#include "api/schema.h"

namespace fleet::api::detail {

// S is the entity or its const form.
template <class S, class T>
concept Entity = std::same_as<std::remove_const_t<S>, T>;

template <Entity<UnitOption> S, class F>
void each_field(S& v, F&& f) {
  f("section", v.section);
  f("name", v.name);
  f("value", v.value);
}

template <Entity<Unit> S, class F>
void each_field(S& v, F&& f) {
  f("name", v.name);
  f("options", v.options);
  f("desiredState", v.desired_state);
  f("currentState", v.current_state);
  f("machineID", v.machine_id);
  f("reason", v.reason);
  f("hash", v.hash);
  f("description", v.description);
  f("global", v.global);
}

template <Entity<UnitState> S, class F>
void each_field(S& v, F&& f) {
  f("name", v.name);
  f("hash", v.hash);
  f("machineID", v.machine_id);
  f("systemdLoadState", v.systemd_load_state);
  f("systemdActiveState", v.systemd_active_state);
  f("systemdSubState", v.systemd_sub_state);
}

template <Entity<Machine> S, class F>
void each_field(S& v, F&& f) {
  f("id", v.id);
  f("primaryIP", v.primary_ip);
  f("metadata", v.metadata);
  f("version", v.version);
  f("maintenance", v.maintenance);
}

template <Entity<UnitPage> S, class F>
void each_field(S& v, F&& f) {
  f("units", v.units);
  f("nextPageToken", v.next_page_token);
}

template <Entity<UnitStatePage> S, class F>
void each_field(S& v, F&& f) {
  f("states", v.states);
  f("nextPageToken", v.next_page_token);
}

template <Entity<MachinePage> S, class F>
void each_field(S& v, F&& f) {
  f("machines", v.machines);
  f("nextPageToken", v.next_page_token);
}

}  // namespace fleet::api::detail
