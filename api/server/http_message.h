#pragma once
// Request and Response: plain HTTP messages independent of Beast, so the API handlers are pure
// coroutines that tests call directly (no sockets), and the Beast listener (http_server.cpp) only
// converts at its edge.

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace fleet::api::server {

template <class T>
using Task = boost::asio::awaitable<T>;

struct Header {
  std::string name;  // as received; compare case-insensitively
  std::string value;
};

struct Request {
  std::string method;  // "GET", "PUT", ... (case-sensitive, as HTTP says)
  std::string target;  // raw request target, e.g. "/fleet/v1/units?nextPageToken=ZAACAA%3D%3D"
  std::vector<Header> headers;
  std::string body;

  // Builds a request; `target` is kept raw and decoded by path()/query().
  static Request make(std::string method, std::string target, std::string body = {},
                      std::vector<Header> headers = {});

  // Percent-decoded path ('+' is kept); "" when the target is not origin-form ("/...").
  std::string path() const;
  // Percent-decoded query parameters in order ('+' → space), duplicates kept.
  std::vector<std::pair<std::string, std::string>> query() const;
  // Every value of the query parameter `name`.
  std::vector<std::string> query_values(std::string_view name) const;
  // Every value of header `name` (case-insensitive).
  std::vector<std::string_view> header_values(std::string_view name) const;
};

// A body produced piece by piece (e.g. `journal --follow`): the listener sends it chunked.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // The next piece; nullopt when the body is complete. An error ends the body early.
  // Called on the io_context thread; may suspend for as long as the producer needs.
  virtual Task<Result<std::optional<std::string>>> next() = 0;
};

struct Response {
  int status = 200;
  std::vector<Header> headers;
  std::string body;
  // When set, the body is streamed from here after `body` (which is then usually empty).
  std::shared_ptr<BodyStream> stream;

  const std::string* header(std::string_view name) const;  // first value, case-insensitive
  void set_header(std::string name, std::string value);    // replaces all values of `name`
};

// `{"error":{"code":N,"message":"..."}}` with Content-Type application/json.
Response error_response(int status, std::string_view message);
// 200-style JSON response with Content-Type application/json.
Response json_response(int status, std::string body);
// A response with the given Content-Type (probes, metrics).
Response typed_response(int status, std::string content_type, std::string body);
// A response without body (201/204 from PUT/DELETE).
Response empty_response(int status);

std::string percent_decode(std::string_view s, bool plus_is_space);
bool iequals(std::string_view a, std::string_view b);

}  // namespace fleet::api::server
