#include "fleetctl/unit_files.h"

namespace fleet::fleetctl {

namespace {

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir == ".") return name;
  if (dir.ends_with('/')) return dir + name;
  return dir + "/" + name;
}

std::string base_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Result<Options> read_unit_file(CommandContext& ctx, const std::string& path) {
  BOOST_OUTCOME_TRY(auto text, ctx.sys.read_file(path));
  return ctx.units.parse(text);
}

// fleet's matchLocalFileAndUnit: true when the local file has the registered content.
Result<bool> match_local_file(CommandContext& ctx, const std::string& path, const api::Unit& su) {
  if (!ctx.sys.file_exists(path)) {
    return fail(Errc::not_found, "stat " + path + ": no such file or directory");
  }
  BOOST_OUTCOME_TRY(auto local, read_unit_file(ctx, path));
  return serialize_unit(local) == serialize_unit(su.options);
}

Result<Options> options_from_template(CommandContext& ctx, const UnitNameInfo& info,
                                      const std::string& path, bool replace) {
  auto tmpl = ctx.api->get_unit(info.template_name);
  if (!tmpl) {
    return fail(Errc::invalid_argument, "error retrieving template Unit(" + info.template_name +
                                            ") from Registry: " + tmpl.error().message);
  }
  if (tmpl.value()) {
    (void)is_local_unit_different(ctx, path, *tmpl.value(), replace);
    return tmpl.value()->options;
  }
  std::string file = join_path(dir_of(path), info.template_name);
  if (!ctx.sys.file_exists(file)) {
    return fail(Errc::invalid_argument, "unable to find template Unit(" + info.template_name +
                                            ") in Registry or on filesystem");
  }
  auto opts = read_unit_file(ctx, file);
  if (!opts) {
    return fail(Errc::invalid_argument, "unable to load template Unit(" + info.template_name +
                                            ") from file: " + opts.error().message);
  }
  return opts;
}

}  // namespace

Result<bool> is_local_unit_different(CommandContext& ctx, const std::string& path,
                                     const api::Unit& su, bool replace) {
  auto same = match_local_file(ctx, path, su);
  if (same) {
    if (!same.value() && !replace) {
      ctx.io.err << "WARNING: Unit " << su.name << " in registry differs from local unit file "
                 << path << ". Add --replace to override.\n";
    }
    return !same.value();
  }
  auto info = unit_name_info(base_of(path));
  if (!info)
    return fail(Errc::invalid_argument, "error extracting information from unit name " + path);
  if (!info->is_instance()) {
    return fail(Errc::invalid_argument,
                "error Unit " + path + " does not seem to be a template unit");
  }
  auto tmpl_same = match_local_file(ctx, join_path(dir_of(path), info->template_name), su);
  if (!tmpl_same) return tmpl_same.error();
  if (!tmpl_same.value() && !replace) {
    ctx.io.err << "WARNING: Unit " << su.name
               << " in registry differs from local template unit file " << path
               << ". Add --replace to override.\n";
  }
  return !tmpl_same.value();
}

Result<Options> unit_options_for(CommandContext& ctx, const std::string& path,
                                 const std::string& name, bool replace) {
  if (ctx.sys.file_exists(path)) {
    auto opts = read_unit_file(ctx, path);
    if (!opts) {
      return fail(Errc::invalid_argument,
                  "failed getting Unit(" + path + ") from file: " + opts.error().message);
    }
    return opts;
  }
  auto info = unit_name_info(name);
  if (!info)
    return fail(Errc::invalid_argument, "error extracting information from unit name " + name);
  if (!info->is_instance()) {
    return fail(Errc::invalid_argument,
                "unable to find Unit(" + name + ") in Registry or on filesystem");
  }
  auto opts = options_from_template(ctx, *info, path, replace);
  if (!opts) {
    return fail(Errc::invalid_argument,
                "failed getting Unit(" + path + ") from template: " + opts.error().message);
  }
  return opts;
}

}  // namespace fleet::fleetctl
