#pragma once
// The dashboard's files (api/server/ui/), compiled in at build time by fleet_embed_files
// (cmake/embed_files.cmake): fleetd serves them with no files on disk and no build step at run
// time.

#include <string_view>

namespace fleet::api::server::ui_files {

std::string_view index_html();
std::string_view app_js();
std::string_view style_css();
std::string_view favicon_svg();

}  // namespace fleet::api::server::ui_files
