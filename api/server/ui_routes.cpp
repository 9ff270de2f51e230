// GET /ui/...: the web dashboard (Documentation/dashboard.md). Static files compiled into
// fleetd; the page itself reads and acts through the v1 API on the same listener, so it has
// exactly the API's access rules (TLS client certificates, the unix socket's file mode).

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "api/server/detail/routes.h"
#include "api/server/ui_files.h"

namespace fleet::api::server::detail {

namespace {

struct UiFile {
  std::string_view path;  // under /ui/
  std::string_view content_type;
  std::string_view (*content)();
};

constexpr UiFile kFiles[] = {
    {"", "text/html; charset=utf-8", ui_files::index_html},
    {"app.js", "text/javascript; charset=utf-8", ui_files::app_js},
    {"style.css", "text/css; charset=utf-8", ui_files::style_css},
    {"favicon.svg", "image/svg+xml", ui_files::favicon_svg},
};

// Only the page's own files and the API: no inline script or style, no other origin, no framing.
constexpr std::string_view kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// FNV-1a of the content: the files change only with the binary, so this names a version.
std::string etag_of(std::string_view content) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : content) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

void secure(Response& r) {
  r.set_header("Content-Security-Policy", std::string(kPolicy));
  r.set_header("X-Content-Type-Options", "nosniff");
  r.set_header("Referrer-Policy", "no-referrer");
  r.set_header("X-Frame-Options", "DENY");
}

}  // namespace

Response ui(const Request& req) {
  const std::string path = req.path();
  if (req.method != "GET") return error_response(405, "only GET supported against this resource");
  if (path == "/ui") {
    Response r = empty_response(308);
    r.set_header("Location", "/ui/");
    return r;
  }
  const std::string_view name = std::string_view(path).substr(4);  // after "/ui/"
  for (const auto& f : kFiles) {
    if (f.path != name) continue;
    const std::string_view content = f.content();
    std::string etag = etag_of(content);
    // Revalidated on every load (no-cache) so an upgraded fleetd is seen at once; unchanged
    // files cost a 304.
    Response r;
    bool fresh = false;
    for (auto v : req.header_values("If-None-Match"))
      if (v == etag) fresh = true;
    if (fresh) {
      r = empty_response(304);
    } else {
      r = typed_response(200, std::string(f.content_type), std::string(content));
    }
    r.set_header("ETag", std::move(etag));
    r.set_header("Cache-Control", "no-cache");
    secure(r);
    return r;
  }
  Response r = error_response(404, "page not found");
  secure(r);
  return r;
}

}  // namespace fleet::api::server::detail
