#pragma once
// The cluster's event history: what was decided or observed about a unit or machine, when, where
// and why ("scheduled web@1.service to m2: least loaded"), kept in the registry under
// <prefix>events/ in bounded space, so any fleetd can list it and stream it.
//
// An event's key is <prefix>events/<unix time in ns, 20 digits>-<8 hex digits>, so keys sort by
// time and trimming by age or count is one range delete. Its position is the registry revision
// it was written at: a watcher resumes after the last position it saw, no event lost or repeated
// (until retention removed it, which the watch reports as Errc::not_found).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "registry/kv.h"

namespace fleet::registry {

struct EventRecord {
  Revision position = 0;  // set when read; ignored when appended
  std::string time;       // RFC 3339 UTC with milliseconds; set by append() when empty
  std::string kind;       // see Documentation/events.md: scheduled, unscheduled, started, ...
  std::string unit;       // empty for machine and cluster events
  std::string machine;    // empty when the event is not about one machine
  std::string reason;     // why, in words an operator reads
  bool operator==(const EventRecord&) const = default;
};

struct EventFilter {
  std::vector<std::string> units;  // any of these; empty = all
  std::string machine;             // machine ID prefix; empty = all
  Revision after = 0;              // only events written after this position
  std::optional<std::chrono::system_clock::time_point> since;  // only events at or after
  std::size_t limit = 0;  // at most this many, the newest; 0 = all
};

// How much history is kept: the newest `max_count` events no older than `max_age`.
struct EventRetention {
  std::size_t max_count = 10000;
  std::chrono::seconds max_age = std::chrono::hours(24);
};

// The unit and machine parts of `f` (position and time are bounds of the read).
bool matches(const EventFilter& f, const EventRecord& e);

// One event as a JSON object ({"position":..,"time":..,"kind":..,"unit":..,"machine":..,
// "reason":..}), as the API serves it and fleetctl prints it with --format json.
std::string to_json(const EventRecord& e);
Result<EventRecord> event_from_json(std::string_view json);

class EventStream {
 public:
  virtual ~EventStream() = default;
  // The next events in position order (never empty). Errc::not_found when the events after the
  // requested position were already trimmed; Errc::cancelled after cancel().
  virtual Task<Result<std::vector<EventRecord>>> next() = 0;
  virtual void cancel() = 0;
};

class EventLog {
 public:
  EventLog(KvStore& kv, std::string prefix);

  // The key puts that append `events` (time filled in where empty), for a caller that writes
  // them in the same transaction as the decision they record.
  std::vector<Op> put_ops(std::vector<EventRecord> events) const;
  // Appends in as few transactions as the store allows.
  Task<Status> append(std::vector<EventRecord> events);
  // append() for a component whose decision is already made: a failure is logged (one line,
  // as `component`) and does not fail the caller. Nothing to do for no events.
  Task<void> record(std::vector<EventRecord> events, std::string_view component);
  // Matching events, oldest first, and the revision of the read (watch(revision) continues
  // exactly where the listing ends).
  struct Listing {
    std::vector<EventRecord> events;
    Revision revision = 0;
  };
  Task<Result<Listing>> list(EventFilter filter);
  // Events written after position `after` (0: from now on), as they are written.
  std::unique_ptr<EventStream> watch(Revision after);
  // Deletes what `r` does not keep; returns how many events were deleted.
  Task<Result<std::int64_t>> trim(EventRetention r, std::chrono::system_clock::time_point now);

 private:
  KvStore& kv_;
  std::string dir_;  // <prefix>events/
};

}  // namespace fleet::registry
