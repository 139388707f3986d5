// Command site is a wasmhost plugin that renders an HTML page with
// html/template, linking its stylesheet, script and logo through
// sdk.StaticURL, so that each link carries the version (?v=<hash>) of the
// file it names and browsers may cache the files for a year.
package main

import (
	"bytes"
	"html/template"
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

// page is parsed once per instance, at init, not per request.
var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wasmhost: static files</title>
<link rel="stylesheet" href="{{.Stylesheet}}">
<script src="{{.Script}}" defer></script>
</head>
<body>
<header>
<img id="logo" src="{{.Logo}}" alt="" width="48" height="48">
<h1>Static files, versioned</h1>
</header>
<main>
<p>This page was rendered by a WebAssembly plugin. Its assets are served by
the host, under URLs that change whenever a file's content does:</p>
<ul>
<li>stylesheet: <code>{{.Stylesheet}}</code></li>
<li>script: <code>{{.Script}}</code></li>
<li>logo: <code>{{.Logo}}</code></li>
</ul>
<p id="script-status">The script has not run.</p>
</main>
</body>
</html>
`))

// assets are the links of the page, resolved at each request: an edited
// file gets its new URL on the next page load, with no restart.
type assets struct {
	Stylesheet, Script, Logo string
}

func init() {
	sdk.Handle(http.HandlerFunc(serve))
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "" && r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var buf bytes.Buffer
	err := page.Execute(&buf, assets{
		Stylesheet: sdk.StaticURL("css/site.css"),
		Script:     sdk.StaticURL("js/site.js"),
		Logo:       sdk.StaticURL("img/logo.svg"),
	})
	if err != nil {
		// Rendered into a buffer, so a failure can still be a clean 500.
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		sdk.Logf("render: %v", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The page names the current versions of its assets, so it must be
	// fetched again each time; the assets themselves are cached.
	h.Set("Cache-Control", "no-cache")
	w.Write(buf.Bytes())
}

func main() {}
