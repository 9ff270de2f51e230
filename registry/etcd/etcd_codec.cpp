#include "registry/etcd/etcd_codec.h"

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

namespace fleet::registry::etcd {

using json = nlohmann::json;

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Reads an int64 that the gateway sends as a string (or, on some paths, a number); absent = 0.
std::int64_t get_i64(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_number_unsigned()) return static_cast<std::int64_t>(it->get<std::uint64_t>());
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc::result_out_of_range) {
      // uint64 fields (member ids) may exceed int64; keep the bits.
      std::uint64_t u = 0;
      std::from_chars(s.data(), s.data() + s.size(), u);
      return static_cast<std::int64_t>(u);
    }
    if (ec != std::errc() || p != s.data() + s.size()) {
      throw std::invalid_argument(std::string("not an integer: ") + name);
    }
    return v;
  }
  throw std::invalid_argument(std::string("not an integer: ") + name);
}

bool get_bool(const json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::string get_bytes(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return {};
  auto raw = base64_decode(it->get_ref<const std::string&>());
  if (!raw) throw std::invalid_argument(std::string("bad base64 in ") + name);
  return std::move(*raw);
}

Revision header_revision(const json& j) {
  auto it = j.find("header");
  return it == j.end() ? 0 : get_i64(*it, "revision");
}

KeyValue decode_kv(const json& j) {
  KeyValue kv;
  kv.key = get_bytes(j, "key");
  kv.value = get_bytes(j, "value");
  kv.create_revision = get_i64(j, "create_revision");
  kv.mod_revision = get_i64(j, "mod_revision");
  kv.version = get_i64(j, "version");
  kv.lease = get_i64(j, "lease");
  return kv;
}

RangeResponse decode_range_json(const json& j, Revision fallback_revision) {
  RangeResponse r;
  if (auto it = j.find("kvs"); it != j.end() && it->is_array()) {
    r.kvs.reserve(it->size());
    for (const auto& kv : *it) r.kvs.push_back(decode_kv(kv));
  }
  r.count = get_i64(j, "count");
  r.more = get_bool(j, "more");
  r.revision = header_revision(j);
  if (r.revision == 0) r.revision = fallback_revision;
  return r;
}

json range_json(std::string_view key, std::string_view range_end) {
  json j = {{"key", base64_encode(key)}};
  if (!range_end.empty()) j["range_end"] = base64_encode(range_end);
  return j;
}

json put_json(std::string_view key, std::string_view value, LeaseId lease) {
  json j = {{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) j["lease"] = std::to_string(lease);
  return j;
}

json op_json(const Op& op) {
  switch (op.kind) {
    case Op::Kind::put:
      return {{"request_put", put_json(op.key, op.value, op.lease)}};
    case Op::Kind::del:
      return {{"request_delete_range", range_json(op.key, op.range_end)}};
    case Op::Kind::range:
      break;
  }
  return {{"request_range", range_json(op.key, op.range_end)}};
}

json compare_json(const Compare& c) {
  json j = {{"key", base64_encode(c.key)}};
  static constexpr std::array<const char*, 4> kResults = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
  j["result"] = kResults.at(static_cast<std::size_t>(c.result));
  auto number = std::to_string(c.number);
  switch (c.target) {
    case Compare::Target::version:
      j["target"] = "VERSION";
      j["version"] = number;
      break;
    case Compare::Target::create_revision:
      j["target"] = "CREATE";
      j["create_revision"] = number;
      break;
    case Compare::Target::mod_revision:
      j["target"] = "MOD";
      j["mod_revision"] = number;
      break;
    case Compare::Target::value:
      j["target"] = "VALUE";
      j["value"] = base64_encode(c.value);
      break;
    case Compare::Target::lease:
      j["target"] = "LEASE";
      j["lease"] = number;
      break;
  }
  return j;
}

// Runs `f` on the parsed 200 body; non-200 and malformed bodies become Errors.
// `f` returns Result<T>.
template <class F>
auto decode_with(unsigned status, std::string_view body, F&& f)
    -> decltype(f(std::declval<const json&>())) {
  if (status != 200) return outcome::failure(error_from_reply(status, body));
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(Errc::internal, "etcd: malformed reply: " + std::string(body.substr(0, 200)));
  }
  try {
    return f(j);
  } catch (const std::exception& e) {
    return fail(Errc::internal, std::string("etcd: unexpected reply: ") + e.what());
  }
}

Errc errc_from_grpc(std::int64_t code, std::string_view msg, unsigned status) {
  switch (code) {
    case 3:   // InvalidArgument
    case 11:  // OutOfRange: revision compacted or in the future
      return Errc::invalid_argument;
    case 4:  // DeadlineExceeded
      return Errc::timeout;
    case 5:  // NotFound (lease)
      return Errc::not_found;
    case 6:
      return Errc::already_exists;
    case 9:  // FailedPrecondition
      return Errc::conflict;
    case 1:  // Canceled
      return Errc::cancelled;
    case 8:   // ResourceExhausted (too many requests)
    case 14:  // Unavailable: no leader, request timed out, stopped
      return Errc::unavailable;
    case 2:  // Unknown: "context deadline exceeded" when a lease grant finds no quorum
      if (msg.find("deadline exceeded") != std::string_view::npos) return Errc::timeout;
      break;
    default:
      break;
  }
  switch (status) {
    case 400:
      return Errc::invalid_argument;
    case 404:
      return Errc::not_found;
    case 408:
    case 504:
      return Errc::timeout;
    case 429:
    case 502:
    case 503:
      return Errc::unavailable;
    default:
      return Errc::internal;
  }
}

}  // namespace

std::string base64_encode(std::string_view raw) {
  std::string out;
  out.reserve((raw.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(raw[k]); };
  for (; i + 2 < raw.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (std::size_t rest = raw.size() - i; rest > 0) {
    unsigned v = byte(i) << 16;
    if (rest == 2) v |= byte(i + 1) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    unsigned v = 0;
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      char c = text[i + k];
      unsigned d = 0;
      if (c == '=') {
        // Padding only in the last group's last one or two places.
        if (i + 4 != text.size() || k < 2) return std::nullopt;
        ++pad;
      } else {
        if (pad > 0) return std::nullopt;
        auto pos = kAlphabet.find(c);
        if (pos == std::string_view::npos) return std::nullopt;
        d = static_cast<unsigned>(pos);
      }
      v = (v << 6) | d;
    }
    out += static_cast<char>((v >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
  }
  return out;
}

std::string encode_range(const RangeRequest& req) {
  json j = range_json(req.key, req.range_end);
  if (req.limit > 0) j["limit"] = std::to_string(req.limit);
  if (req.revision > 0) j["revision"] = std::to_string(req.revision);
  if (req.keys_only) j["keys_only"] = true;
  if (req.count_only) j["count_only"] = true;
  if (req.serializable) j["serializable"] = true;
  if (req.min_mod_revision > 0) j["min_mod_revision"] = std::to_string(req.min_mod_revision);
  return j.dump();
}

std::string encode_put(std::string_view key, std::string_view value, LeaseId lease) {
  return put_json(key, value, lease).dump();
}

std::string encode_delete(std::string_view key, std::string_view range_end) {
  return range_json(key, range_end).dump();
}

std::string encode_txn(const TxnRequest& req) {
  json j = json::object();
  auto& compare = j["compare"] = json::array();
  for (const auto& c : req.compare) compare.push_back(compare_json(c));
  auto& success = j["success"] = json::array();
  for (const auto& op : req.success) success.push_back(op_json(op));
  auto& failure = j["failure"] = json::array();
  for (const auto& op : req.failure) failure.push_back(op_json(op));
  return j.dump();
}

std::string encode_lease_grant(std::chrono::seconds ttl) {
  return json{{"TTL", std::to_string(ttl.count())}}.dump();
}

std::string encode_lease_id(LeaseId id) { return json{{"ID", std::to_string(id)}}.dump(); }

std::string encode_lease_ids(const std::vector<LeaseId>& ids) {
  std::string out;
  for (LeaseId id : ids) {
    out += encode_lease_id(id);
    out += '\n';
  }
  return out;
}

std::string encode_compaction(Revision rev) {
  return json{{"revision", std::to_string(rev)}, {"physical", true}}.dump();
}

std::string encode_authenticate(std::string_view user, std::string_view password) {
  return json{{"name", user}, {"password", password}}.dump();
}

std::string encode_watch_create(const WatchRequest& req, Revision start) {
  json c = range_json(req.key, req.range_end);
  if (start > 0) c["start_revision"] = std::to_string(start);
  if (req.prev_kv) c["prev_kv"] = true;
  c["progress_notify"] = true;
  return json{{"create_request", std::move(c)}}.dump();
}

Error error_from_reply(unsigned status, std::string_view body) {
  auto j = json::parse(body, nullptr, false);
  std::string msg;
  std::int64_t code = -1;
  if (j.is_object()) {
    try {
      const json* e = &j;
      // In-stream shape: {"error":{"grpc_code":14,"http_code":503,"message":...}}.
      if (auto it = j.find("error"); it != j.end() && it->is_object()) {
        e = &*it;
        code = get_i64(*e, "grpc_code");
        if (status == 0) status = static_cast<unsigned>(get_i64(*e, "http_code"));
      } else {
        code = j.contains("code") ? get_i64(j, "code") : -1;
      }
      if (auto m = e->find("message"); m != e->end() && m->is_string()) msg = *m;
      if (auto m = e->find("error"); msg.empty() && m != e->end() && m->is_string()) msg = *m;
    } catch (const std::exception&) {
      code = -1;
    }
  }
  if (msg.empty()) msg = std::string(body.substr(0, 200));
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
  auto text = "etcd: " + msg;
  if (status != 0) text += " (http " + std::to_string(status) + ")";
  return Error{errc_from_grpc(code, msg, status), std::move(text)};
}

Result<RangeResponse> decode_range(unsigned status, std::string_view body) {
  return decode_with(
      status, body, [](const json& j) -> Result<RangeResponse> { return decode_range_json(j, 0); });
}

Result<Revision> decode_put(unsigned status, std::string_view body) {
  return decode_with(status, body,
                     [](const json& j) -> Result<Revision> { return header_revision(j); });
}

Result<std::int64_t> decode_delete(unsigned status, std::string_view body) {
  return decode_with(status, body,
                     [](const json& j) -> Result<std::int64_t> { return get_i64(j, "deleted"); });
}

Result<TxnResponse> decode_txn(unsigned status, std::string_view body, const TxnRequest& req) {
  return decode_with(status, body, [&](const json& j) -> Result<TxnResponse> {
    TxnResponse r;
    r.succeeded = get_bool(j, "succeeded");
    r.revision = header_revision(j);
    const auto& ops = r.succeeded ? req.success : req.failure;
    auto it = j.find("responses");
    std::size_t n = it != j.end() && it->is_array() ? it->size() : 0;
    if (n != ops.size()) throw std::invalid_argument("txn reply has the wrong number of results");
    r.results.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const json& resp = (*it)[i];
      OpResult res;
      res.kind = ops[i].kind;
      if (res.kind == Op::Kind::range) {
        auto rr = resp.find("response_range");
        if (rr == resp.end()) throw std::invalid_argument("txn reply: missing response_range");
        res.range = decode_range_json(*rr, r.revision);
      } else if (res.kind == Op::Kind::del) {
        auto rd = resp.find("response_delete_range");
        if (rd == resp.end()) throw std::invalid_argument("txn reply: missing delete result");
        res.deleted = get_i64(*rd, "deleted");
      }
      r.results.push_back(std::move(res));
    }
    return r;
  });
}

Result<LeaseId> decode_lease_grant(unsigned status, std::string_view body) {
  return decode_with(status, body, [](const json& j) -> Result<LeaseId> {
    if (auto e = j.find("error");
        e != j.end() && e->is_string() && !e->get<std::string>().empty()) {
      return fail(Errc::unavailable, "etcd: lease grant: " + e->get<std::string>());
    }
    LeaseId id = get_i64(j, "ID");
    if (id == 0) return fail(Errc::internal, "etcd: lease grant returned no ID");
    return id;
  });
}

Result<std::chrono::seconds> decode_keepalive(unsigned status, std::string_view body) {
  // A streaming endpoint: the reply is one JSON line per request, wrapped in "result".
  auto nl = body.find('\n');
  auto line = body.substr(0, nl);
  if (status == 200 && line.find("\"error\"") != std::string_view::npos &&
      line.find("\"result\"") == std::string_view::npos) {
    return outcome::failure(error_from_reply(0, line));
  }
  return decode_with(status, line, [](const json& j) -> Result<std::chrono::seconds> {
    auto it = j.find("result");
    const json& res = it != j.end() ? *it : j;
    auto ttl = get_i64(res, "TTL");
    if (ttl <= 0) return fail(Errc::not_found, "etcd: lease expired or revoked");
    return std::chrono::seconds(ttl);
  });
}

std::vector<Result<std::chrono::seconds>> decode_keepalives(unsigned status, std::string_view body,
                                                            std::size_t leases) {
  std::vector<Result<std::chrono::seconds>> out;
  out.reserve(leases);
  while (out.size() < leases && !body.empty()) {
    auto nl = body.find('\n');
    auto line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    out.push_back(decode_keepalive(status, line));
  }
  if (out.empty() && status / 100 != 2)
    out.push_back(outcome::failure(error_from_reply(status, body)));
  return out;
}

Status decode_empty(unsigned status, std::string_view body) {
  return decode_with(status, body, [](const json&) -> Status { return ok(); });
}

Result<std::string> decode_authenticate(unsigned status, std::string_view body) {
  return decode_with(status, body, [](const json& j) -> Result<std::string> {
    auto it = j.find("token");
    if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) {
      return fail(Errc::internal, "etcd: authenticate returned no token");
    }
    return it->get<std::string>();
  });
}

Result<WatchMessage> decode_watch_line(std::string_view line) {
  auto j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(Errc::internal,
                "etcd: malformed watch message: " + std::string(line.substr(0, 200)));
  }
  WatchMessage m;
  if (auto e = j.find("error"); e != j.end()) {
    m.kind = WatchMessage::Kind::error;
    m.message = error_from_reply(0, line).message;
    return m;
  }
  auto it = j.find("result");
  if (it == j.end() || !it->is_object()) {
    return fail(Errc::internal, "etcd: watch message without result");
  }
  const json& r = *it;
  try {
    m.header_revision = header_revision(r);
    if (get_bool(r, "canceled")) {
      m.kind = WatchMessage::Kind::canceled;
      m.compact_revision = get_i64(r, "compact_revision");
      if (auto c = r.find("cancel_reason"); c != r.end() && c->is_string()) m.message = *c;
      return m;
    }
    if (auto ev = r.find("events"); ev != r.end() && ev->is_array() && !ev->empty()) {
      m.kind = WatchMessage::Kind::events;
      m.events.reserve(ev->size());
      for (const auto& e : *ev) {
        Event out;
        auto type = e.find("type");
        out.type = type != e.end() && type->is_string() && *type == "DELETE" ? Event::Type::del
                                                                             : Event::Type::put;
        if (auto kv = e.find("kv"); kv != e.end()) out.kv = decode_kv(*kv);
        if (auto pk = e.find("prev_kv"); pk != e.end() && pk->is_object()) {
          out.prev_kv = decode_kv(*pk);
        }
        m.events.push_back(std::move(out));
      }
      return m;
    }
    m.kind = get_bool(r, "created") ? WatchMessage::Kind::created : WatchMessage::Kind::progress;
    return m;
  } catch (const std::exception& e) {
    return fail(Errc::internal, std::string("etcd: unexpected watch message: ") + e.what());
  }
}

}  // namespace fleet::registry::etcd
