// Command heavy is a large, standard-library-heavy plugin (templates, JSON,
// regular expressions, compression, images, crypto) with a version set at
// build time, for measuring how long swapping a big module takes.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/wasmhost/wasmhost/sdk"
)

var version = "dev"

var page = template.Must(template.New("p").Parse(`<p>{{.}}</p>`))

var word = regexp.MustCompile(`[A-Za-z]+`)

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("work") != "" {
			var buf bytes.Buffer
			page.Execute(&buf, strings.Join(word.FindAllString(r.URL.RawQuery, -1), " "))
			img := image.NewRGBA(image.Rect(0, 0, 4, 4))
			img.Set(1, 1, color.RGBA{R: 255, A: 255})
			png.Encode(&buf, img)
			zw := gzip.NewWriter(&buf)
			json.NewEncoder(zw).Encode(map[string]any{"sum": sha256.Sum256(buf.Bytes())})
			zw.Close()
			tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
			fmt.Fprintf(tw, "bytes\t%d\n", buf.Len())
			tw.Flush()
		}
		w.Write([]byte("version " + version + "\n"))
	}))
}

func main() {}
