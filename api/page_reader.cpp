// Listing pages (UnitPage, UnitStatePage) decoded straight into their structs from the parser's
// events (json_events.h), without a JSON DOM: fleetctl reads every page of a listing,
// and building the DOM (a map node and a string per field, then a copy of each into the struct)
// was most of `fleetctl list-unit-files`' own time at 10,000 units. Same results as the DOM
// decoders for what fleetd sends: absent and null fields stay empty, unknown members are
// skipped, a wrong type is an error, invalid UTF-8 reads as U+FFFD. Of duplicate members the
// last non-null value wins (a later null leaves an earlier value, as Go's encoding/json does;
// the DOM decoders take the null).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/json_events.h"
#include "api/schema.h"
#include "api/schema_fields.h"
#include "common/utf8.h"

namespace fleet::api {

namespace {

using detail::each_field;
using nlohmann::json;

// Page: UnitPage or UnitStatePage; Item its element (Unit or UnitState). Members of an item are
// strings, except Unit::options (an array of UnitOption objects, whose members are strings) and
// Unit::global (a boolean).
template <class Page, class Item>
class PageReader {
 public:
  PageReader(Page& page, std::vector<Item>& items, const char* items_key, const char* what,
             const char* item_what)
      : page_(page), items_(items), items_key_(items_key), what_(what), item_what_(item_what) {}

  const std::string& error() const { return error_; }

  bool null() { return scalar(json::value_t::null); }
  bool boolean(bool v) {
    if (skip_ == 0 && want_ == Want::boolean) {
      *flag_ = v;
      want_ = Want::key;
      lenient_ = false;
      return true;
    }
    return scalar(json::value_t::boolean);
  }
  bool number_float(double, const std::string&) { return scalar(json::value_t::number_float); }
  bool string(std::string& v) {
    if (skip_ == 0 && want_ == Want::string) {
      *target_ = std::move(v);
      want_ = Want::key;
      lenient_ = false;
      return true;
    }
    return scalar(json::value_t::string);
  }

  bool start_object(std::size_t) {
    if (skip_ > 0 || want_ == Want::skip || lenient_) return enter_skip();
    switch (want_) {
      case Want::top:
        stack_.push_back(Frame::page);
        break;
      case Want::item:
        items_.emplace_back();
        stack_.push_back(Frame::item);
        break;
      case Want::option:
        options_->emplace_back();
        stack_.push_back(Frame::option);
        break;
      default:
        return mismatch(json::value_t::object);
    }
    want_ = Want::key;
    return true;
  }

  bool key(std::string& k) {
    if (skip_ > 0) return true;
    want_ = Want::skip;
    lenient_ = false;
    switch (stack_.back()) {
      case Frame::page:
        if (k == items_key_) {
          want_ = Want::items;
        } else if (k == "nextPageToken") {
          want_ = Want::string;
          target_ = &page_.next_page_token;
        }
        break;
      case Frame::item:
        each_field(items_.back(), [&](const char* name, auto& field) {
          if (k != name) return;
          // The basic view's members (only fleetd writes them): a value of another type is
          // skipped like an unknown member, as fleet skipped members it did not know.
          if constexpr (std::is_same_v<Item, Unit>)
            lenient_ = k == "hash" || k == "description" || k == "global";
          using Field = std::decay_t<decltype(field)>;
          if constexpr (std::is_same_v<Field, std::string>) {
            want_ = Want::string;
            target_ = &field;
          } else if constexpr (std::is_same_v<Field, std::optional<bool>>) {
            want_ = Want::boolean;
            flag_ = &field;
          } else {
            want_ = Want::options;
            options_ = &field;
          }
        });
        break;
      case Frame::option:
        each_field(options_->back(), [&](const char* name, std::string& field) {
          if (k != name) return;
          want_ = Want::string;
          target_ = &field;
        });
        break;
      default:
        break;
    }
    return true;
  }

  bool end_object() {
    if (skip_ > 0) return leave_skip();
    stack_.pop_back();
    after_value();
    return true;
  }

  bool start_array(std::size_t) {
    if (skip_ > 0 || want_ == Want::skip || lenient_) return enter_skip();
    if (want_ == Want::items) {
      items_.clear();  // a repeated member keeps its last value
      stack_.push_back(Frame::items);
      want_ = Want::item;
    } else if (want_ == Want::options) {
      options_->clear();
      stack_.push_back(Frame::options);
      want_ = Want::option;
    } else {
      return mismatch(json::value_t::array);
    }
    return true;
  }

  bool end_array() {
    if (skip_ > 0) return leave_skip();
    stack_.pop_back();
    after_value();
    return true;
  }

 private:
  enum class Frame { page, items, item, options, option };
  // What the next value must be.
  enum class Want { top, key, string, boolean, items, item, options, option, skip };

  bool scalar(json::value_t t) {
    if (skip_ > 0) return true;
    if (lenient_) {
      want_ = Want::key;
      lenient_ = false;
      return true;
    }
    switch (want_) {
      case Want::skip:
        want_ = Want::key;
        return true;
      case Want::string:
      case Want::items:
      case Want::options:
        if (t != json::value_t::null) return mismatch(t);
        want_ = Want::key;  // null: the zero value, as absent
        return true;
      default:
        return mismatch(t);
    }
  }

  bool enter_skip() {
    ++skip_;
    lenient_ = false;
    return true;
  }
  bool leave_skip() {
    if (--skip_ == 0) want_ = Want::key;
    return true;
  }

  // After a closed object or array, the frame below decides what comes next.
  void after_value() {
    want_ = Want::key;
    if (stack_.empty()) return;
    if (stack_.back() == Frame::items) want_ = Want::item;
    if (stack_.back() == Frame::options) want_ = Want::option;
  }

  // The DOM decoders' messages for the same mismatches.
  bool mismatch(json::value_t got) {
    switch (want_) {
      case Want::top:
        error_ = std::string("[json.exception.type_error.302] ") + what_ + " must be a JSON object";
        break;
      case Want::item:
        error_ =
            std::string("[json.exception.type_error.302] ") + item_what_ + " must be a JSON object";
        break;
      case Want::option:
        error_ = "[json.exception.type_error.302] UnitOption must be a JSON object";
        break;
      case Want::items:
      case Want::options:
        error_ = std::string("[json.exception.type_error.302] type must be array, but is ") +
                 json(got).type_name();
        break;
      default:
        error_ = std::string("[json.exception.type_error.302] type must be string, but is ") +
                 json(got).type_name();
    }
    return false;
  }

  Page& page_;
  std::vector<Item>& items_;
  const char* items_key_;
  const char* what_;
  const char* item_what_;
  std::vector<Frame> stack_;
  Want want_ = Want::top;
  int skip_ = 0;  // depth inside a skipped (unknown) member's value
  std::string* target_ = nullptr;
  std::optional<bool>* flag_ = nullptr;
  bool lenient_ = false;  // the value expected is a basic-view member's
  std::vector<UnitOption>* options_ = nullptr;
  std::string error_;
};

template <class Page, class Item>
Result<Page> read_page(std::string_view text, std::vector<Item> Page::*items, const char* items_key,
                       const char* what, const char* item_what) {
  Page page;
  PageReader<Page, Item> reader(page, page.*items, items_key, what, item_what);
  // The text is parsed in place when it is valid UTF-8 (as it is from fleetd), else a repaired
  // copy.
  std::string repaired;
  if (!is_valid_utf8(text)) {
    repaired = to_valid_utf8(text);
    text = repaired;
  }
  JsonEvents<PageReader<Page, Item>> parser(text, reader);
  if (!parser.run()) {
    const std::string& why = parser.error().empty() ? reader.error() : parser.error();
    return fail(Errc::invalid_argument, std::string("invalid ") + what + ": " + why);
  }
  return page;
}

}  // namespace

Result<UnitPage> decode_unit_page(std::string_view text) {
  return read_page<UnitPage, Unit>(text, &UnitPage::units, "units", "UnitPage", "Unit");
}

Result<UnitStatePage> decode_unit_state_page(std::string_view text) {
  return read_page<UnitStatePage, UnitState>(text, &UnitStatePage::states, "states",
                                             "UnitStatePage", "UnitState");
}

}  // namespace fleet::api
