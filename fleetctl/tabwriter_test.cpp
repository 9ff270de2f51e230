#include "fleetctl/tabwriter.h"

#include <doctest/doctest.h>

using fleet::fleetctl::tabwrite;

TEST_CASE("cells are padded with tabs to the column width rounded up to 8") {
  CHECK(tabwrite("MACHINE\tIP\tMETADATA\n113f16a7...\t172.17.8.103\tregion=us-west\n"
                 "abcdef12...\t-\t-\n") ==
        "MACHINE\t\tIP\t\tMETADATA\n113f16a7...\t172.17.8.103\tregion=us-west\n"
        "abcdef12...\t-\t\t-\n");
}

TEST_CASE("a cell exactly one short of a tab stop still gets one tab (padding 1)") {
  // width 7 + padding 1 = 8: one tab; width 8 + 1 = 9 → 16: "12345678" then one tab.
  CHECK(tabwrite("1234567\tx\n") == "1234567\tx\n");
  CHECK(tabwrite("12345678\tx\nab\ty\n") == "12345678\tx\nab\t\ty\n");
}

TEST_CASE("the last cell of a line is never padded and text without tabs passes through") {
  CHECK(tabwrite("a\tb\n") == "a\tb\n");
  CHECK(tabwrite("plain line\n") == "plain line\n");
  CHECK(tabwrite("") == "");
  CHECK(tabwrite("no newline") == "no newline");
}

TEST_CASE("a line without a cell in a column ends that column's block") {
  // The header line breaks the block: the two blocks are aligned independently.
  CHECK(tabwrite("aaaaaaaaaaaa\tx\nHEADER\nb\ty\n") == "aaaaaaaaaaaa\tx\nHEADER\nb\ty\n");
}

TEST_CASE("empty cells are padded like others and widths count code points") {
  CHECK(tabwrite("\tx\nabc\ty\n") == "\tx\nabc\ty\n");
  // "é" is two bytes but one column, like Go.
  CHECK(tabwrite("ééééééé\tx\nabcdefgh\ty\n") == "ééééééé\t\tx\nabcdefgh\ty\n");
}
