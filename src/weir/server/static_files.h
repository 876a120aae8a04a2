// Internal to the server module: answers GET/HEAD requests from a directory (the dashboard).
//
//   Response r = ServeStaticFile(mount, request, raw_path, "/app.js");
#pragma once

#include <string_view>

#include "weir/server/http_server.h"
#include "weir/server/router.h"

namespace weir::server::detail {

/// Answers with the file at `relative` (decoded, "" or starting with '/') below the mount's
/// directory: 200 with the file, 304 when If-None-Match names its ETag, 301 from a directory
/// without a trailing slash to one, 400 for ".." segments or NUL bytes, 404 otherwise.
/// `raw_path` (percent-encoded) builds redirect locations. Reads the file synchronously.
Response ServeStaticFile(const StaticMount& mount, const Request& request, std::string_view raw_path,
                         std::string_view relative);

/// "text/html; charset=utf-8" for "index.html"; "application/octet-stream" when unknown.
std::string_view ContentTypeForPath(std::string_view path);

}  // namespace weir::server::detail
