# The gin example on its own site: `make run-gin` builds it and serves this
# file. gin is kept out of the main example site (plugins/examples/site.hcl)
# because it is a module of its own that needs gin from the module proxy,
# its first build takes about a minute, and it is a 15 MB module whose
# machine code takes a few hundred MB per worker.
#
#   curl http://127.0.0.1:8888/api/healthz
#   curl -i http://127.0.0.1:8888/api/notes/          # 301 to /api/notes: the mount is kept
#   curl -i -d '{"text":"buy milk"}' http://127.0.0.1:8888/api/notes
#   curl http://127.0.0.1:8888/api/notes

server {
  listen = ["127.0.0.1:8888"]
}

# The notes, in an SQLite file next to this one.
kv "default" {
  path    = "notes.kv"
  timeout = "2s" # a store that does not answer in time: the API answers 503
}

plugin "gin" {
  path  = "gin.wasm"
  mount = "/api"
  kv    = ["default"]
}
