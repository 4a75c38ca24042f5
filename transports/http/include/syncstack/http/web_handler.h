// A web app beside the sync API on one port: `serve --web DIR` serves the
// app's static files from the same origin, and `--cors-origin ORIGIN` lets
// pages of other origins call the API. docs/web.md.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "syncstack/status.h"
#include "syncstack/transport.h"

namespace syncstack {

struct WebHandlerOptions {
  // Folder whose files are answered to GET (and HEAD) of any path outside
  // /v1/: "/" and paths ending in "/" mean their index.html. Only regular
  // files with a known extension (.html .js .mjs .css .json .png .svg
  // .webmanifest .ico .txt) are served; no path part may be "", "." or
  // "..", start with "." or hold a backslash, and no part may be a
  // symbolic link: anything else is 404. "" serves no files.
  // Default: "" (none).
  std::string dir;
  // Origins ("http://host[:port]" or "https://host[:port]", as browsers
  // send them) whose pages may call the API: their requests get
  // Access-Control-Allow-* headers and their preflight OPTIONS a 204. Any
  // other origin gets no such header (its preflight: 403). Default: none.
  std::vector<std::string> cors_origins;
  // Largest file served; a larger one is 404 and is not read.
  // Default: 16 MiB.
  size_t max_file = 16u << 20;
};

// Answers static files and CORS as `options` say, and hands every other
// request to `api` unchanged (adding CORS headers to its answer for listed
// origins). `api` must outlive the handler. The folder is opened once here:
// the handler keeps serving that folder even if the path is renamed.
// Errors: kInvalidArgument (a dir that is not a readable folder, or an
// origin that is not scheme://host[:port]).
// Thread safety: Handle may be called concurrently.
Result<std::unique_ptr<Handler>> NewWebHandler(
    Handler& api, const WebHandlerOptions& options);

// Whether `origin` is written as browsers send it: "http://" or "https://",
// a host of letters, digits, '-', '.' (or a bracketed IPv6 address), an
// optional ":port", and nothing after.
bool IsWebOrigin(const std::string& origin) noexcept;

}  // namespace syncstack
