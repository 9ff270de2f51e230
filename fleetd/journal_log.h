#pragma once
// Logging to journald's native protocol when fleetd runs under systemd: each event's level
// becomes the entry's PRIORITY (so `journalctl -p warning` filters) and each field a journal
// field (`journalctl UNIT=web.service`, `MACHINE=…`). Elsewhere fleetd logs text or JSON lines
// with timestamps to stderr (common/log.h).

#include <string>
#include <vector>

#include "common/log.h"

namespace fleet::fleetd {

// True when stderr is the journal stream systemd connected (JOURNAL_STREAM names its device
// and inode), i.e. what fleetd writes to stderr would end up in the journal anyway.
bool stderr_is_journal();

// The fields of one journal entry: MESSAGE (the text line without level and newline),
// PRIORITY, SYSLOG_IDENTIFIER=fleetd, FLEET_COMPONENT, and one field per event field with its
// key upper-cased (characters other than A-Z, 0-9 and '_' become '_'; a key that would start
// with '_' or a digit gets the prefix FLEET_, since journald reserves the former).
std::vector<std::string> journal_fields(const log::Event& e);

// A log::Sink sending through sd_journal_sendv; falls back to stderr if the journal refuses.
void journal_sink(const log::Event& e);

}  // namespace fleet::fleetd
