#include "unitfile/unit_file.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <utility>

#include "common/strings.h"
#include "common/utf8.h"
#include "unitfile/detail/deserialize.h"

namespace fleet::unitfile {
namespace {

constexpr std::string_view kXFleet = "X-Fleet";

UnitFile::Contents map_options(const std::vector<UnitOption>& options) {
  UnitFile::Contents contents;
  for (const auto& opt : options) {
    auto& vals = contents[opt.section][opt.name];  // created even when a split yields nothing
    if (opt.section == kXFleet) {
      for (auto& v : split_multi_value(opt.value)) vals.push_back(std::move(v));
    } else {
      vals.push_back(opt.value);
    }
  }
  return contents;
}

}  // namespace

std::string sha1_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr) != 1) {
    // Only fails on allocation failure or a FIPS-crippled OpenSSL; a unit identity cannot be
    // computed, so there is nothing sensible to continue with.
    std::abort();
  }
  return hex_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::vector<std::string> split_multi_value(std::string_view value) {
  if (value.size() < 1 || value.front() != '"' || value.back() != '"') {
    return {std::string(value)};
  }
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : value) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ' ' && !quoted) {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(std::move(cur));
  return out;
}

std::string serialize_options(const std::vector<UnitOption>& options) {
  // Sections in order of first appearance; options keep their relative order within a section.
  std::vector<std::string_view> order;
  std::map<std::string_view, std::vector<const UnitOption*>> by_section;
  for (const auto& opt : options) {
    auto [it, inserted] = by_section.try_emplace(opt.section);
    if (inserted) order.push_back(opt.section);
    it->second.push_back(&opt);
  }
  std::string out;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i > 0) out += '\n';
    out += '[';
    out += order[i];
    out += "]\n";
    for (const UnitOption* opt : by_section[order[i]]) {
      out += opt->name;
      out += '=';
      out += opt->value;
      out += '\n';
    }
  }
  return out;
}

UnitFile::UnitFile(std::vector<UnitOption> options)
    : options_(std::move(options)),
      contents_(map_options(options_)),
      canonical_(serialize_options(options_)),
      hash_(sha1_hex(canonical_)) {}

Result<UnitFile> UnitFile::parse(std::string_view text) {
  BOOST_OUTCOME_TRY(auto options, detail::deserialize(text));
  // go-systemd keeps raw bytes in sections and values; fleetctl then sends the options as JSON,
  // whose encoder turns each invalid byte into U+FFFD. What fleet stores and hashes is that, so
  // the parse yields it directly (names are already re-encoded by the lexer).
  for (auto& o : options) {
    o.section = to_valid_utf8(o.section);
    o.value = to_valid_utf8(o.value);
  }
  return UnitFile(std::move(options));
}

UnitFile UnitFile::from_options(std::vector<UnitOption> options) {
  return UnitFile(std::move(options));
}

std::string UnitFile::description() const {
  const auto& v = values("Unit", "Description");
  return v.empty() ? std::string() : v.front();
}

const std::vector<std::string>& UnitFile::values(std::string_view section,
                                                 std::string_view name) const {
  static const std::vector<std::string> kNone;
  auto s = contents_.find(section);
  if (s == contents_.end()) return kNone;
  auto n = s->second.find(name);
  return n == s->second.end() ? kNone : n->second;
}

}  // namespace fleet::unitfile
