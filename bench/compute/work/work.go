// Package work is the computation bench/compute.sh times, shared by the
// plugin (run by each engine) and the native program, so both run the
// same Go code: SHA-256 rounds and a goldmark render of a large document.
package work

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// SHA256 runs n rounds of SHA-256 over 4 KiB, each round hashing a block
// seeded with the previous sum, and returns the last sum in hex.
func SHA256(n int) string {
	var block [4096]byte
	sum := sha256.Sum256(block[:])
	for i := 1; i < n; i++ {
		copy(block[:], sum[:])
		sum = sha256.Sum256(block[:])
	}
	return hex.EncodeToString(sum[:])
}

// Document returns a markdown document of about size bytes: sections with
// headings, paragraphs with emphasis and links, lists, code blocks and
// tables, the mix a documentation page has.
func Document(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "## Section %d\n\n", i)
		for p := 0; p < 3; p++ {
			fmt.Fprintf(&b, "Paragraph %d of section %d has *emphasis*, **strong text**, `inline code` and a [link](https://example.com/%d/%d). ", p, i, i, p)
			b.WriteString("It goes on for a while, so that the renderer has real inline work to do, with a few more words here and there.\n\n")
		}
		for l := 0; l < 5; l++ {
			fmt.Fprintf(&b, "- item %d with _some_ text\n", l)
		}
		b.WriteString("\n```go\nfunc main() {\n\tfmt.Println(\"hello\")\n}\n```\n\n")
		b.WriteString("| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |\n| 4 | 5 | 6 |\n\n")
	}
	return b.Bytes()
}

var md = goldmark.New(goldmark.WithExtensions(extension.GFM))

// Markdown renders doc to HTML with goldmark (GitHub-flavoured).
func Markdown(doc []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(doc) * 2)
	if err := md.Convert(doc, &out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
