// Package static serves a site's static files (the static block of
// site.hcl) with content-versioned URLs that browsers may cache forever.
//
// # The model
//
// Files live in one folder, the root. The host asks Matches on every
// request, before plugin routing, so a plugin mounted at "/" can never
// shadow them: paths under the URL prefix ("/static/" by default) map to
// names below the root, and "/robots.txt", "/favicon.ico" and each of
// root_files map to the file of that name in the root.
//
// Pages link files through URL ("css/site.css" →
// "/static/css/site.css?v=1f2e3d4c5b6a7988"), which plugins reach with
// sdk.StaticURL through a host call, so a plugin and the host can never
// disagree about a version. v is the first 16 hex digits (64 bits) of the
// SHA-256 of the file's content. A request whose v equals the hash of the
// file as it is now gets
//
//	Cache-Control: public, max-age=31536000, immutable
//
// and an Expires a year ahead: the URL can only ever name these bytes, so
// browsers need not ask again, not even on reload. Every other request (no
// v, or a v of another version: an old page, a hand-made URL) gets
// Cache-Control: no-cache with the validators, so caches revalidate it.
// Tornado sends the long lifetime for any v, which pins whatever the
// file holds at the time under a URL that claims another version.
//
// # Keeping hashes right
//
// A changed file must get its new hash at once, and a hash must never
// outlive the version it was computed from (tornado#892, #1002). Every
// URL call and every request stats the file; with hash_cache on, the hash is
// cached under a key of size, modification time, device, inode and (on
// Linux) change time, so an edit in place, a replacement by rename, or an
// mtime reset all miss the cache. File times are coarse, so a file modified
// within the last two seconds is hashed again at every use rather than
// cached (git's "racily clean" rule). Misses are never cached: a file
// created after a page asked for it is found by the next call. A missing
// file yields the URL without v and a warning, at most once a minute per
// name, never an error page. With hash_cache = false (the default under
// debug) every call hashes the file.
//
// # HTTP
//
// Only GET and HEAD are served; other methods get 405 with "Allow: GET,
// HEAD". HEAD gets exactly the headers GET would. Responses carry a strong
// ETag made from the content hash, distinct per content coding
// ("<hash>", "<hash>-gz", "<hash>-br"), and Last-Modified. Conditional
// requests follow RFC 9110 section 13.2.2: If-Match and
// If-Unmodified-Since (412), then If-None-Match (lists, "*", weak
// comparison), which when present makes If-Modified-Since ignored; a match
// is a 304 with the ETag, Cache-Control, Expires and Vary of the 200 and no
// body.
//
// A single byte range gets 206 with Content-Range, or 416 with
// "Content-Range: bytes */size" when it starts past the end. Ranges always
// apply to the identity representation (never a compressed body, so a
// resumed download cannot splice compressed bytes into uncompressed ones),
// and If-Range must strongly match the identity ETag, or equal
// Last-Modified, for the range to be honoured; otherwise the whole file is
// sent. Several ranges in one request, and ranges of an empty file, are
// ignored (RFC 9110 allows it): the response is the whole file.
//
// Content types come from a fixed table (see mime.go), never from sniffing
// or the machine's mime.types, and are sent with
// "X-Content-Type-Options: nosniff"; unknown extensions are
// application/octet-stream.
//
// # Compression
//
// For compressible types (text, JavaScript, CSS, JSON, SVG, wasm, ...),
// responses carry "Vary: Accept-Encoding" whatever the request, and the
// body is, in order of the client's q-values (ties: br, gzip, identity):
// a precompressed sibling (x.css.br, x.css.gz) that is at least as new as
// x.css (an older one was built from an older version and is ignored, with
// a warning); else gzip made on the fly, for files of more than 1 KiB and
// at most 16 MiB; else the file itself. Compression streams through a
// pooled writer, so memory does not grow with the file; up to 64 KiB of
// output is held back so a short body gets a Content-Length, exactly as
// HEAD reports it. Partial (206) responses are never compressed.
//
// # Safety
//
// No request opens anything outside the root. Names are checked before
// the file system is touched: "." and ".." segments get 403 (an explicit
// attempt to climb out, as Tornado answers); escaped separators (%2f,
// %5c), backslashes, NUL bytes, empty segments ("//", a trailing "/") and
// hidden names (a segment starting with ".", such as .git or .env) get 404.
// Files are then opened through os.Root, which resolves each path component
// itself and refuses symbolic links that lead outside the root or are
// absolute (404); links that stay inside are followed. Folders, devices and
// FIFOs are 404: nothing is listed and no index file is substituted. Error
// pages are a status line in plain text, never a file system path, sent with
// Cache-Control: no-store.
//
// The root is opened afresh for each request (one extra open and close),
// not held: a deployment that replaces the folder, or repoints a symbolic
// link to it, is served from the new folder at once.
package static
