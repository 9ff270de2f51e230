#include "unitfile/unit_name.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace fleet::unitfile {
namespace {

struct NameCase {
  std::string name;
  std::string want_error;  // empty: valid
};

TEST_CASE("unit names are validated with fleet's rules, messages and order") {
  const std::vector<NameCase> cases = {
      {"foo.service", ""},
      {"foo.socket", ""},
      {"a.automount", ""},
      {"a.busname", ""},
      {"a.device", ""},
      {"a.mount", ""},
      {"a.path", ""},
      {"a.scope", ""},
      {"a.slice", ""},
      {"a.snapshot", ""},
      {"a.swap", ""},
      {"a.target", ""},
      {"a.timer", ""},
      {"foo.1.service", ""},
      {"foo@.service", ""},
      {"foo@bar.service", ""},
      {"foo@bar@baz.service", ""},
      {"ssh@.socket", ""},
      {"yes@no\\.service", ""},
      {"A-Z_a:z.09.service", ""},
      {std::string(248, 'a') + ".service", ""},
      {"", "unit name cannot be empty"},
      {std::string(249, 'a') + ".service", "unit name exceeds maximum length (256)"},
      {"foo", "unit name must contain \".\""},
      {"foo.", "unit name cannot end in \".\""},
      {"foo.service.", "unit name cannot end in \".\""},
      {".", "unit name cannot end in \".\""},
      {"foo.servICE", "invalid unit type: \"servICE\""},
      {"foo.bar", "invalid unit type: \"bar\""},
      {"foo.1", "invalid unit type: \"1\""},
      {"foo.ser\"v", "invalid unit type: \"ser\\\"v\""},
      {"foo@.mount", "invalid unit type for template: \"mount\""},
      {"foo@bar.device", "invalid unit type for template: \"device\""},
      {"@.slice", "invalid unit type for template: \"slice\""},
      {"foo bar.service", "invalid character ' ' in unit name"},
      {"foo/bar.service", "invalid character '/' in unit name"},
      {"foo'.service", "invalid character '\\'' in unit name"},
      {"foo\tbar.service", "invalid character '\\t' in unit name"},
      {std::string("a\0b.service", 11), "invalid character '\\x00' in unit name"},
      {"caf\xc3\xa9.service", "invalid character '\xc3\xa9' in unit name"},
      {"a\xc2\xa0.service", "invalid character '\\u00a0' in unit name"},
      {"a\xff.service", "invalid character '\xef\xbf\xbd' in unit name"},
      {"@foo.service", "unit name cannot start in \"@\""},
      {"@.service", "unit name cannot start in \"@\""},
      // Order: the type is checked before characters, characters before the leading '@'.
      {"@ .service", "invalid character ' ' in unit name"},
      {"b d.bad", "invalid unit type: \"bad\""},
      {"a b", "unit name must contain \".\""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto st = validate_unit_name(c.name);
    if (c.want_error.empty()) {
      CHECK(st.has_value());
    } else {
      REQUIRE(st.has_error());
      CHECK(st.error().code == Errc::invalid_argument);
      CHECK(st.error().message == c.want_error);
    }
  }
}

TEST_CASE("unit types are case-sensitive and template types are a subset") {
  CHECK(is_valid_unit_type("service"));
  CHECK_FALSE(is_valid_unit_type("Service"));
  CHECK_FALSE(is_valid_unit_type(".service"));
  CHECK_FALSE(is_valid_unit_type(""));
  for (const char* t : {"path", "service", "socket", "target", "timer"}) {
    CHECK(is_valid_template_unit_type(t));
    CHECK(is_valid_unit_type(t));
  }
  CHECK_FALSE(is_valid_template_unit_type("mount"));
}

struct InfoCase {
  std::string input;
  UnitNameInfo want;
  bool is_template;
  bool is_instance;
};

TEST_CASE("unit names decompose into prefix, template and instance") {
  const std::vector<InfoCase> cases = {
      {"foo.service", {"foo.service", "foo", "foo", ".service", "", ""}, false, false},
      {"foo@.service",
       {"foo@.service", "foo@", "foo", ".service", "foo@.service", ""},
       true,
       false},
      {"foo@bar.service",
       {"foo@bar.service", "foo@bar", "foo", ".service", "foo@.service", "bar"},
       false,
       true},
      {"foo@bar@baz.service",
       {"foo@bar@baz.service", "foo@bar@baz", "foo", ".service", "foo@.service", "bar@baz"},
       false,
       true},
      {"foo.1@2.service",
       {"foo.1@2.service", "foo.1@2", "foo.1", ".service", "foo.1@.service", "2"},
       false,
       true},
      {"ssh@.socket", {"ssh@.socket", "ssh@", "ssh", ".socket", "ssh@.socket", ""}, true, false},
      {"a.b.c", {"a.b.c", "a.b", "a.b", ".c", "", ""}, false, false},
      {"x.", {"x.", "x", "x", ".", "", ""}, false, false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    auto info = parse_unit_name(c.input);
    REQUIRE(info.has_value());
    CHECK(info->full_name == c.want.full_name);
    CHECK(info->name == c.want.name);
    CHECK(info->prefix == c.want.prefix);
    CHECK(info->suffix == c.want.suffix);
    CHECK(info->template_name == c.want.template_name);
    CHECK(info->instance == c.want.instance);
    CHECK(info->is_template() == c.is_template);
    CHECK(info->is_instance() == c.is_instance);
  }
}

TEST_CASE("a name without a dot has no name info") {
  CHECK_FALSE(parse_unit_name("foo").has_value());
  CHECK_FALSE(parse_unit_name("").has_value());
  CHECK_FALSE(parse_unit_name("foo@bar").has_value());
}

TEST_CASE("unit type is the suffix without its dot") {
  CHECK(parse_unit_name("foo@1.socket")->unit_type() == "socket");
}

TEST_CASE("instance names are built from a template name") {
  CHECK(instance_name("foo@.service", "1") == "foo@1.service");
  CHECK(instance_name("foo.1@.socket", "a@b") == "foo.1@a@b.socket");
  CHECK(instance_name("foo@bar.service", "1") == "foo@1.service");
  CHECK(instance_name("foo.service", "1").empty());
  CHECK(instance_name("foo", "1").empty());
}

}  // namespace
}  // namespace fleet::unitfile
