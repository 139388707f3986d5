package static

import (
	"path"
	"strings"
)

// mimeType is one row of the fixed table: the Content-Type to send and
// whether the bytes are worth compressing.
type mimeType struct {
	contentType  string
	compressible bool
}

// octetStream is the type of a file whose extension is not in the table.
// It is never guessed from the content: sniffing would make the type of a
// URL depend on what someone uploaded, which is how a .txt becomes HTML.
var octetStream = mimeType{"application/octet-stream", false}

// mimeTypes is fixed rather than read from /etc/mime.types (as Go's mime
// package does), so a file is served with the same type on every machine:
// a .js served as text/plain on one distribution would break module scripts,
// and a .wasm without application/wasm cannot be compiled with
// WebAssembly.instantiateStreaming.
//
// Text types carry charset=utf-8. Formats that are already compressed
// (images other than SVG and ICO, WOFF fonts, audio, video, archives) are
// not compressible: gzip would cost CPU and gain nothing.
var mimeTypes = map[string]mimeType{
	// Documents and code.
	".html":        {"text/html; charset=utf-8", true},
	".htm":         {"text/html; charset=utf-8", true},
	".xhtml":       {"application/xhtml+xml; charset=utf-8", true},
	".css":         {"text/css; charset=utf-8", true},
	".js":          {"text/javascript; charset=utf-8", true}, // RFC 9239
	".mjs":         {"text/javascript; charset=utf-8", true},
	".cjs":         {"text/javascript; charset=utf-8", true},
	".json":        {"application/json", true},
	".map":         {"application/json", true}, // source maps
	".jsonld":      {"application/ld+json", true},
	".webmanifest": {"application/manifest+json", true},
	".xml":         {"application/xml", true},
	".rss":         {"application/rss+xml", true},
	".atom":        {"application/atom+xml", true},
	".txt":         {"text/plain; charset=utf-8", true},
	".md":          {"text/markdown; charset=utf-8", true},
	".csv":         {"text/csv; charset=utf-8", true},
	".vtt":         {"text/vtt; charset=utf-8", true},
	".wasm":        {"application/wasm", true},
	".pdf":         {"application/pdf", false},

	// Images.
	".svg":  {"image/svg+xml", true},
	".ico":  {"image/vnd.microsoft.icon", true}, // mostly uncompressed bitmaps
	".png":  {"image/png", false},
	".apng": {"image/apng", false},
	".jpg":  {"image/jpeg", false},
	".jpeg": {"image/jpeg", false},
	".gif":  {"image/gif", false},
	".webp": {"image/webp", false},
	".avif": {"image/avif", false},
	".bmp":  {"image/bmp", true},

	// Fonts. WOFF and WOFF2 are compressed formats; TTF, OTF and EOT are not.
	".woff":  {"font/woff", false},
	".woff2": {"font/woff2", false},
	".ttf":   {"font/ttf", true},
	".otf":   {"font/otf", true},
	".eot":   {"application/vnd.ms-fontobject", true},

	// Media.
	".mp3":  {"audio/mpeg", false},
	".ogg":  {"audio/ogg", false},
	".oga":  {"audio/ogg", false},
	".wav":  {"audio/wav", false},
	".flac": {"audio/flac", false},
	".mp4":  {"video/mp4", false},
	".webm": {"video/webm", false},
	".ogv":  {"video/ogg", false},

	// Archives, served as themselves (a request for x.css.gz gets the gzip
	// file, not x.css with Content-Encoding: gzip).
	".gz":  {"application/gzip", false},
	".br":  {"application/octet-stream", false}, // brotli has no registered media type
	".zip": {"application/zip", false},
	".tar": {"application/x-tar", false},
	".zst": {"application/zstd", false},
}

// typeOf returns the table row for a file name by its extension, matched
// without regard to case ("LOGO.PNG" is an image/png).
func typeOf(name string) mimeType {
	ext := path.Ext(name)
	if t, ok := mimeTypes[ext]; ok {
		return t
	}
	if t, ok := mimeTypes[strings.ToLower(ext)]; ok {
		return t
	}
	return octetStream
}
