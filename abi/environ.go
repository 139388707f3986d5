package abi

// Environ keys. The CGI / PEP 3333 keys mean what they mean there; request
// headers appear as HeaderPrefix + the name in upper case with "-" turned
// into "_" (repeated headers joined with ", "), except Content-Type and
// Content-Length, which appear only as KeyContentType and KeyContentLength.
const (
	KeyRequestMethod  = "REQUEST_METHOD"
	KeyScriptName     = "SCRIPT_NAME"  // the plugin's mount, "" for "/"
	KeyPathInfo       = "PATH_INFO"    // the rest of the path, percent-decoded
	KeyQueryString    = "QUERY_STRING" // without the "?"
	KeyRequestURI     = "REQUEST_URI"  // the raw request-target
	KeyContentType    = "CONTENT_TYPE"
	KeyContentLength  = "CONTENT_LENGTH" // "" when unknown (chunked) or absent
	KeyServerName     = "SERVER_NAME"
	KeyServerPort     = "SERVER_PORT"
	KeyServerProtocol = "SERVER_PROTOCOL"
	KeyRemoteAddr     = "REMOTE_ADDR"
	KeyRemotePort     = "REMOTE_PORT"
	HeaderPrefix      = "HTTP_"

	KeyURLScheme     = "wasmhost.url_scheme" // "http" or "https"
	KeyPlugin        = "wasmhost.plugin"
	KeyPluginVersion = "wasmhost.plugin_version" // first 12 hex digits of the module's SHA-256
	KeyWorkerID      = "wasmhost.worker_id"
	KeyRequestID     = "wasmhost.request_id"
	KeyVersion       = "wasmhost.version"
	KeyEngine        = "wasmhost.engine" // the WebAssembly engine running the plugin: "wazero" or "wazy"
)
