#include "api/json_events.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

// Records the events of either parser (nlohmann's SAX interface is a superset of ours).
struct Recorder {
  std::vector<std::string> events;
  bool null() { return add("null"); }
  bool boolean(bool b) { return add(b ? "true" : "false"); }
  bool number_integer(std::int64_t) { return add("number"); }
  bool number_unsigned(std::uint64_t) { return add("number"); }
  bool number_float(double, const std::string&) { return add("number"); }
  bool string(std::string& s) { return add("string " + s); }
  bool binary(nlohmann::json::binary_t&) { return add("binary"); }
  bool start_object(std::size_t) { return add("{"); }
  bool key(std::string& k) { return add("key " + k); }
  bool end_object() { return add("}"); }
  bool start_array(std::size_t) { return add("["); }
  bool end_array() { return add("]"); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }
  bool add(std::string e) {
    events.push_back(std::move(e));
    return true;
  }
};

}  // namespace

TEST_CASE("the event parser accepts and reports what nlohmann's parser does") {
  const std::vector<std::string> texts = {
      "{}", "[]", " \n{ \"a\" : [ true , false , null ] }\r\n\t", "[1,-0,0.5,1e5,-1.25E-3,2e+7]",
      R"(["\"\\\/\b\f\n\r\t", "\u00e9\ud83d\ude00", "x\u0000y", "caf\u00C9"])", "\"caf\xc3\xa9\"",
      R"({"a":{"b":[[{}],[]]},"c":"d"})", "7", "null", "\"s\"",
      // invalid
      "", " ", "{", "[", "[1,]", R"({"a":1,})", "01", "-", "1.", "1.5e", "+1", ".5", "[1] 2", "tru",
      "nul", "nulll", R"({"a" 1})", "{1:2}", R"({"a":})", "\"\\ud83d\"", "\"\\ude00\"",
      "\"\\ud83dx\"", "\"\\ud83d\\u0041\"", "\"a\tb\"", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"",
      "\"abc", "[\"a\" \"b\"]", "{\"a\":1 \"b\":2}", "]", "}", "[}", "{]"};
  for (const auto& text : texts) {
    CAPTURE(text);
    Recorder ours, theirs;
    fleet::api::JsonEvents<Recorder> parser(text, ours);
    const bool ok = parser.run();
    const bool their_ok = nlohmann::json::sax_parse(text, &theirs);
    CHECK(ok == their_ok);
    CHECK(ok == parser.error().empty());
    if (ok && their_ok) CHECK(ours.events == theirs.events);
  }
}

TEST_CASE("a handler stops the event parser") {
  struct StopAtKey : Recorder {
    bool key(std::string&) { return false; }
  } h;
  fleet::api::JsonEvents<StopAtKey> parser(R"({"a":1})", h);
  CHECK_FALSE(parser.run());
  CHECK(parser.error().empty());
  CHECK(h.events == std::vector<std::string>{"{"});
}
