#include "fleetctl/listing.h"

#include <algorithm>

#include "common/strings.h"
#include "fleetctl/tabwriter.h"

namespace fleet::fleetctl {

std::string go_quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::optional<Listing> parse_listing(CommandContext& ctx, const std::vector<std::string>& known) {
  Listing l;
  std::string format = ctx.flags.str("format");
  if (format == "json") {
    l.format = ListingFormat::json;
  } else if (format != "table") {
    ctx.io.err << "Invalid output format " << go_quote(format) << ": use table or json\n";
    return std::nullopt;
  }
  std::string fields = ctx.flags.str("fields");
  if (fields.empty()) {
    ctx.io.err << "Must define output format\n";
    return std::nullopt;
  }
  l.columns = split(fields, ',');
  for (const auto& c : l.columns) {
    if (std::find(known.begin(), known.end(), c) == known.end()) {
      ctx.io.err << "Invalid key in output format: " << go_quote(c) << "\n";
      return std::nullopt;
    }
  }
  l.legend = !ctx.flags.boolean("no-legend");
  l.full = ctx.flags.boolean("full");
  return l;
}

void print_table(CommandContext& ctx, const Listing& listing, std::size_t rows,
                 const std::function<std::string(std::size_t row, const std::string& col)>& cell) {
  std::string text;
  auto add_line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) text += (i ? "\t" : "") + cells[i];
    text += "\n";
  };
  if (listing.legend) {
    std::vector<std::string> header;
    for (const auto& c : listing.columns) {
      std::string h = c;
      std::transform(h.begin(), h.end(), h.begin(),
                     [](unsigned char ch) { return std::toupper(ch); });
      header.push_back(h);
    }
    add_line(header);
  }
  for (std::size_t r = 0; r < rows; ++r) {
    std::vector<std::string> cells;
    for (const auto& c : listing.columns) cells.push_back(cell(r, c));
    add_line(cells);
  }
  ctx.io.out << tabwrite(text);
}

}  // namespace fleet::fleetctl
