#include "api/server/http_message.h"

#include <nlohmann/json.hpp>

namespace fleet::api::server {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// Malformed escapes are kept literally rather than rejected: the router then simply finds no
// resource by that name, which is the answer a client deserves.
std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

Request Request::make(std::string method, std::string target, std::string body,
                      std::vector<Header> headers) {
  Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

std::string Request::path() const {
  std::string_view t = target;
  if (t.empty() || t.front() != '/') return {};
  t = t.substr(0, t.find_first_of("?#"));
  return percent_decode(t, false);
}

std::vector<std::pair<std::string, std::string>> Request::query() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::string_view t = target;
  auto q = t.find('?');
  if (q == std::string_view::npos) return out;
  t = t.substr(q + 1);
  t = t.substr(0, t.find('#'));
  while (!t.empty()) {
    auto amp = t.find_first_of("&;");
    std::string_view part = t.substr(0, amp);
    t = amp == std::string_view::npos ? std::string_view() : t.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string_view key = part.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    out.emplace_back(percent_decode(key, true), percent_decode(value, true));
  }
  return out;
}

std::vector<std::string> Request::query_values(std::string_view name) const {
  std::vector<std::string> out;
  for (auto& [k, v] : query())
    if (k == name) out.push_back(std::move(v));
  return out;
}

std::vector<std::string_view> Request::header_values(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& h : headers)
    if (iequals(h.name, name)) out.emplace_back(h.value);
  return out;
}

const std::string* Response::header(std::string_view name) const {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return &h.value;
  return nullptr;
}

void Response::set_header(std::string name, std::string value) {
  std::erase_if(headers, [&](const Header& h) { return iequals(h.name, name); });
  headers.push_back({std::move(name), std::move(value)});
}

Response error_response(int status, std::string_view message) {
  nlohmann::json j{{"error", {{"code", status}, {"message", std::string(message)}}}};
  Response r;
  r.status = status;
  r.headers.push_back({"Content-Type", "application/json"});
  // Messages can echo user input; never let invalid UTF-8 turn an error into a crash.
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response json_response(int status, std::string body) {
  return typed_response(status, "application/json", std::move(body));
}

Response typed_response(int status, std::string content_type, std::string body) {
  Response r;
  r.status = status;
  r.headers.push_back({"Content-Type", std::move(content_type)});
  r.body = std::move(body);
  return r;
}

Response empty_response(int status) {
  Response r;
  r.status = status;
  return r;
}

}  // namespace fleet::api::server
