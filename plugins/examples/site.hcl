# A site serving the four example plugins. Build them first, from the
# repository's root:
#
#   for p in hello hellogw environ echo stream site cookie errorpage auth chat; do wasmhost build plugins/examples/$p; done
#   wasmhost run plugins/examples/site.hcl
#
# then try
#
#   curl http://127.0.0.1:8888/
#   curl http://127.0.0.1:8888/gw
#   curl http://127.0.0.1:8888/env/a/b?x=1
#   curl --data-binary @site.hcl http://127.0.0.1:8888/echo
#   curl -N 'http://127.0.0.1:8888/stream?n=10'
#   curl -i --compressed http://127.0.0.1:8888/site    # through errorpage, cookie, gzip
#   curl -c jar -H 'Authorization: Bearer change-me' http://127.0.0.1:8888/admin
#   curl -b jar http://127.0.0.1:8888/admin           # the signed session alone
#
# Paths in this file are relative to the folder that holds it.

server {
  # Where to accept connections. `wasmhost run --listen ADDR` replaces this.
  listen = ["127.0.0.1:8888"]

  # One process: no master, no workers. 0 starts one worker per CPU.
  processes = 1

  # Larger request bodies get a 413; echo shows how a plugin sees that.
  max_body_size = "10MB"

  # The engine of every plugin that names none: "wazero" (the default,
  # the reference runtime) or "wazy" (faster; see README "Engines").
  engine = "wazero"

  # Debug mode: 500 pages show the guest's panic and stack trace, and
  # site.hcl is watched too. Never in production.
  debug = false

  # The key the host signs cookies with (sdk.SetSecureCookie); it never
  # enters a plugin. From the environment, so it stays out of this file;
  # the default is for trying the examples only.
  cookie_secret = env("COOKIE_SECRET", "examples-only-change-me-0123456789")
}

# Status and metrics, on the loopback interface only.
admin {
  listen = "127.0.0.1:9901"
}

# Each plugin block mounts one .wasm. A request goes to the plugin with the
# longest mount that is a prefix of its path on a segment boundary: /env
# and /env/x go to environ, /environment goes to hello.

plugin "hello" {
  path      = "hello/hello.wasm"
  mount     = "/"
  instances = 16 # warm instances per worker; more requests than this wait
  timeout   = "10s"
}

# hello on the bare gateway (sdk.HandleGateway), on the faster engine.
plugin "hellogw" {
  path   = "hellogw/hellogw.wasm"
  mount  = "/gw"
  engine = "wazy" # "wazero" (the default) or "wazy"; see README "Engines"
}

plugin "environ" {
  path      = "environ/environ.wasm"
  mount     = "/env"
  instances = 4
  # Extra environ entries, shown by the plugin along with the rest.
  env = { GREETING = "hi" }
  # The cookie middleware's Set-Cookie, and the header it passes on
  # (HTTP_X_COOKIE_MIDDLEWARE), show here.
  middleware = ["cookie"]
}

plugin "echo" {
  path      = "echo/echo.wasm"
  mount     = "/echo"
  instances = 8
  timeout   = "60s" # slow clients uploading 10MB need time
  # Echo copies through a fixed buffer, so a small memory cap is plenty.
  memory_limit = "32MB"
}

plugin "stream" {
  path      = "stream/stream.wasm"
  mount     = "/stream"
  instances = 8
  # Covers the defaults (5 lines, 50 ms apart) with room to spare;
  # ?n=1000 at 50 ms needs 50s and is cut off here.
  timeout = "30s"
}

plugin "site" {
  path      = "site/site.wasm"
  mount     = "/site"
  instances = 4
  # A chain, outermost first: a server error from the page becomes the
  # errorpage middleware's page, every answer gets the cookie, and text is
  # compressed for clients that accept gzip (a built-in, run by the host).
  middleware = ["errorpage", "cookie", "gzip"]
}

# Middleware plugins. Without a mount, a plugin that some middleware list
# names is used only in chains. Each link runs in its own instance of its
# own plugin, so each gets its own pool.
plugin "errorpage" {
  path      = "errorpage/errorpage.wasm"
  instances = 4
}

plugin "cookie" {
  path      = "cookie/cookie.wasm"
  instances = 4
}

# auth signs a session cookie for a request with the token. A signed
# cookie verifies only in the cookie_scope that signed it (by default each
# plugin's own name), so auth and the app behind it share one on purpose,
# and no other plugin here can mint a session auth would accept.
plugin "auth" {
  path         = "auth/auth.wasm"
  env          = { AUTH_TOKEN = "change-me", AUTH_USER = "admin" }
  cookie_scope = "admin"
}

# The environ plugin again, at /admin, behind the auth middleware: 401
# without "Authorization: Bearer change-me" or the session cookie it gave.
plugin "admin" {
  path         = "environ/environ.wasm"
  mount        = "/admin"
  instances    = 2
  middleware   = ["auth"]
  cookie_scope = "admin"
}

# Files served by the host itself, before any plugin is asked: everything
# under /static/, plus /robots.txt and /favicon.ico from this folder. Pages
# link them with sdk.StaticURL("css/site.css"), which gives
# /static/css/site.css?v=<hash of the content>; such URLs are cached by
# browsers for a year, and change as soon as the file does.
static {
  path       = "static"
  url_prefix = "/static/"
  # hash_cache = false     # the default under debug: rehash at every use
  # root_files = ["apple-touch-icon.png"]
}

# A chat room on host-held WebSockets: the page at /chat opens a WebSocket
# to /chat, each message is one guest call, and a publish to the room's
# topic reaches every connection on every worker. /chat/events follows the
# room as server-sent events.
pubsub "default" {} # backend = "local": every worker of this host
plugin "chat" {
  path   = "chat/chat.wasm"
  mount  = "/chat"
  pubsub = ["default"]
  websocket {
    ping_interval = "30s"
  }
}
