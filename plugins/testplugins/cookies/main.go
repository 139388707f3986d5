// Command cookies exercises the host's signed cookies and XSRF token:
//
//   - /set?name=N&value=V sets a signed cookie and answers "set";
//   - /get?name=N answers the verified value, or 403 with the error;
//   - /token answers sdk.XSRFToken (empty without the xsrf middleware);
//   - /form serves a page with a form posting to /echo, with the token;
//   - /echo (any method) answers "<METHOD> <length>\n" and the body back.
package main

import (
	"fmt"
	"html/template"
	"io"
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

var form = template.Must(template.New("form").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>form</title></head><body>
<form id="f" method="post" action="/echo" enctype="{{.Enctype}}">
<input type="hidden" name="_xsrf" value="{{.Token}}">
<input type="text" name="comment" value="hello from a browser">
<button id="go" type="submit">Send</button>
</form></body></html>
`))

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch r.URL.Path {
		case "/set":
			if err := sdk.SetSecureCookie(w, q.Get("name"), q.Get("value")); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			io.WriteString(w, "set\n")
		case "/get":
			v, err := sdk.SecureCookie(r, q.Get("name"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			}
			io.WriteString(w, v)
		case "/token":
			io.WriteString(w, sdk.XSRFToken(r))
		case "/form":
			enctype := "application/x-www-form-urlencoded"
			if q.Get("multipart") != "" {
				enctype = "multipart/form-data"
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			form.Execute(w, map[string]string{"Token": sdk.XSRFToken(r), "Enctype": enctype})
		default:
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "%s %d\n", r.Method, len(b))
			w.Write(b)
		}
	}))
}

func main() {}
