#include "fleetctl/tabwriter.h"

#include <vector>

namespace fleet::fleetctl {

namespace {

constexpr std::size_t kTabWidth = 8;
constexpr std::size_t kPadding = 1;

struct Cell {
  std::string_view text;
  std::size_t width = 0;
};
using Line = std::vector<Cell>;

std::size_t rune_count(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

class Formatter {
 public:
  explicit Formatter(std::vector<Line> lines) : lines_(std::move(lines)) {}

  std::string run() {
    format(0, lines_.size());
    return std::move(out_);
  }

 private:
  void write_padding(std::size_t text_width, std::size_t cell_width) {
    // Padding with tabs: the cell width is rounded up to a tab stop and filled with tabs.
    cell_width = (cell_width + kTabWidth - 1) / kTabWidth * kTabWidth;
    std::size_t n = cell_width - text_width;
    out_.append((n + kTabWidth - 1) / kTabWidth, '\t');
  }

  void write_lines(std::size_t line0, std::size_t line1) {
    for (std::size_t i = line0; i < line1; ++i) {
      const Line& line = lines_[i];
      for (std::size_t j = 0; j < line.size(); ++j) {
        out_.append(line[j].text);
        if (j < widths_.size()) write_padding(line[j].width, widths_[j]);
      }
      if (i + 1 < lines_.size()) out_ += '\n';
    }
  }

  // Go's recursive column-block algorithm (text/tabwriter.(*Writer).format).
  void format(std::size_t line0, std::size_t line1) {
    std::size_t column = widths_.size();
    for (std::size_t self = line0; self < line1; ++self) {
      if (column + 1 >= lines_[self].size()) continue;
      write_lines(line0, self);
      line0 = self;
      std::size_t width = 0;
      for (; self < line1; ++self) {
        const Line& line = lines_[self];
        if (column + 1 >= line.size()) break;
        width = std::max(width, line[column].width + kPadding);
      }
      widths_.push_back(width);
      format(line0, self);
      widths_.pop_back();
      // `self` now ends the block: it has no cell in this column, so (as in Go) the loop's
      // increment skips it.
      line0 = self;
    }
    write_lines(line0, line1);
  }

  std::vector<Line> lines_;
  std::vector<std::size_t> widths_;
  std::string out_;
};

}  // namespace

std::string tabwrite(std::string_view text) {
  std::vector<Line> lines(1);
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\t' && c != '\n') continue;
    std::string_view cell = text.substr(start, i - start);
    lines.back().push_back({cell, rune_count(cell)});
    start = i + 1;
    if (c == '\n') lines.emplace_back();
  }
  std::string_view last = text.substr(start);
  lines.back().push_back({last, rune_count(last)});
  return Formatter(std::move(lines)).run();
}

}  // namespace fleet::fleetctl
