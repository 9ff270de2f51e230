#pragma once
// Small string helpers shared by the parsers (unit files, fleet.conf, metadata, CLI flags).

#include <string>
#include <string_view>
#include <vector>

namespace fleet {

std::string_view trim(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
// Splits on runs of ASCII whitespace, dropping empty fields (Go strings.Fields).
std::vector<std::string> split_fields(std::string_view s);
std::string to_lower(std::string_view s);
// fleet's truthy values: 1, t, true, y, yes, on (case-insensitive).
bool parse_truthy(std::string_view s);
std::string hex_encode(std::string_view bytes);

}  // namespace fleet
