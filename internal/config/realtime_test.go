package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRealtimeConfig(t *testing.T) {
	src := `pubsub "default" {}
pubsub "shared" {
  backend = "redis"
  url     = "redis://127.0.0.1:6379/1"
}
plugin "chat" {
  path   = "chat.wasm"
  mount  = "/chat"
  pubsub = ["shared", "shared"]
  websocket {
    max_message_size = "1MB"
    ping_interval    = "20s"
    origins          = ["app.example.com", "*.example.org"]
    compression      = true
    max_connections  = 500
    send_buffer      = "64KB"
  }
}
plugin "plain" {
  path  = "plain.wasm"
  mount = "/plain"
  websocket {}
}
`
	site, diags := Parse([]byte(src), "/srv/site.hcl")
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags))
	}
	if len(site.Pubsub) != 2 || site.Pubsub[0].Backend != PubsubLocal || site.Pubsub[0].URL != "" ||
		site.Pubsub[1].Backend != PubsubRedis || site.Pubsub[1].URL != "redis://127.0.0.1:6379/1" {
		t.Fatalf("pubsub blocks = %+v", site.Pubsub)
	}
	chat, plain := site.Plugins[0], site.Plugins[1]
	if chat.Pubsub != "shared" || plain.Pubsub != "" {
		t.Errorf("grants = %q, %q", chat.Pubsub, plain.Pubsub)
	}
	ws := chat.WebSocket
	if ws == nil || ws.MaxMessageSize != 1<<20 || ws.PingInterval != 20*time.Second || ws.PingTimeout != 20*time.Second ||
		!slices.Equal(ws.Origins, []string{"app.example.com", "*.example.org"}) || !ws.Compression ||
		ws.MaxConnections != 500 || ws.SendBuffer != 64<<10 {
		t.Errorf("chat websocket = %+v", ws)
	}
	d := plain.WebSocket
	if d == nil || d.MaxMessageSize != 10<<20 || d.PingInterval != 0 || d.PingTimeout != 0 || len(d.Origins) != 0 ||
		d.Compression || d.MaxConnections != 10000 || d.SendBuffer != 1<<20 {
		t.Errorf("default websocket = %+v", d)
	}
	if site.Plugins[0].WebSocket == nil {
		t.Fatal("no websocket")
	}
	site, diags = Parse([]byte("plugin \"a\" {\n  path = \"a.wasm\"\n}\n"), "/srv/site.hcl")
	if diags.HasErrors() || site.Plugins[0].WebSocket != nil || site.Plugins[0].Pubsub != "" || len(site.Pubsub) != 0 {
		t.Errorf("a plugin without realtime settings: %+v %s", site.Plugins[0], FormatDiagnostics(diags))
	}
}

func TestRealtimeConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"unknown backend", "pubsub \"p\" {\n  backend = \"nats\"\n}\n",
			[]string{"site.hcl:2,13-", `backend is "nats"; it must be "local" or "redis"`}},
		{"redis without url", "pubsub \"p\" {\n  backend = \"redis\"\n}\n",
			[]string{"site.hcl:1,1-", "needs url"}},
		{"local with url", "pubsub \"p\" {\n  url = \"redis://x:6379\"\n}\n",
			[]string{"site.hcl:2,9-", `url is for backend = "redis"`}},
		{"bad redis url", "pubsub \"p\" {\n  backend = \"redis\"\n  url = \"http://x\"\n}\n",
			[]string{"site.hcl:3,9-", "must start with redis://"}},
		{"duplicate", "pubsub \"p\" {}\npubsub \"p\" {}\n",
			[]string{"site.hcl:2,1-", "already declared at site.hcl:1"}},
		{"undeclared grant", "plugin \"a\" {\n  path = \"a.wasm\"\n  pubsub = [\"nope\"]\n}\n",
			[]string{"site.hcl:3,13-", `pubsub grants "nope", but no pubsub "nope" {} block declares it`}},
		{"two grants", "pubsub \"p\" {}\npubsub \"q\" {}\nplugin \"a\" {\n  path = \"a.wasm\"\n  pubsub = [\"p\", \"q\"]\n}\n",
			[]string{"site.hcl:5,18-", `grants "p" and "q"`}},
		{"grant not a list", "pubsub \"p\" {}\nplugin \"a\" {\n  path = \"a.wasm\"\n  pubsub = \"p\"\n}\n",
			[]string{"site.hcl:4,12-", "pubsub"}},
		{"two websocket blocks", "plugin \"a\" {\n  path = \"a.wasm\"\n  websocket {}\n  websocket {}\n}\n",
			[]string{"site.hcl:4,3-", "Only one websocket block"}},
		{"unknown websocket setting", "plugin \"a\" {\n  path = \"a.wasm\"\n  websocket {\n    max_msg = 1\n  }\n}\n",
			[]string{"site.hcl:4,5-", "max_msg"}},
		{"zero message size", "plugin \"a\" {\n  path = \"a.wasm\"\n  websocket {\n    max_message_size = \"0B\"\n  }\n}\n",
			[]string{"site.hcl:4,24-", "max_message_size must be more than 0"}},
		{"zero connections", "plugin \"a\" {\n  path = \"a.wasm\"\n  websocket {\n    max_connections = 0\n  }\n}\n",
			[]string{"site.hcl:4,23-", "max_connections"}},
		{"origin with scheme", "plugin \"a\" {\n  path = \"a.wasm\"\n  websocket {\n    origins = [\"https://x.com\"]\n  }\n}\n",
			[]string{"site.hcl:4,16-", "without a scheme"}},
		{"zero ping timeout", "plugin \"a\" {\n  path = \"a.wasm\"\n  websocket {\n    ping_interval = \"5s\"\n    ping_timeout = \"0s\"\n  }\n}\n",
			[]string{"site.hcl:5,20-", "ping_timeout must be more than 0"}},
		{"bad duration", "plugin \"a\" {\n  path = \"a.wasm\"\n  websocket {\n    ping_interval = 5\n  }\n}\n",
			[]string{"site.hcl:4,21-", "ping_interval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse([]byte(tc.src), "site.hcl")
			if !diags.HasErrors() {
				t.Fatalf("no error for\n%s", tc.src)
			}
			out := FormatDiagnostics(diags)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, out)
				}
			}
		})
	}
}
