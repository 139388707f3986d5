package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The documented site.hcl example writes
//
//	tls { cert = "cert.pem"  key = "key.pem" }
//
// but HCL's native syntax allows only one argument in a single-line block.
// Users copy documented examples, so such lines must work. Rather than fork
// the parser, the extra arguments are cut out of the source before parsing
// (replaced by spaces, which keeps every byte offset, line and column
// intact), parsed on their own as expressions at their original positions,
// and put back into the block's body afterwards. The parser then sees a
// plain single-argument block, and every diagnostic still points at the
// text the user wrote.
//
// Only the unambiguous shape is handled: a block header, then on the same
// line arguments of the form NAME = EXPR separated by whitespace, then "}".
// Anything else (commas, comments, newlines inside) is left to HCL and its
// own diagnostics.

// splitOneLineBlocks returns the source to parse, and the extra arguments
// keyed by the byte offset of their block's opening brace.
func splitOneLineBlocks(src []byte, filename string) ([]byte, map[int][]*hclsyntax.Attribute, hcl.Diagnostics) {
	toks, lexDiags := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	if lexDiags.HasErrors() {
		return src, nil, nil // the parser reports these with better context
	}
	var out []byte
	var diags hcl.Diagnostics
	extras := map[int][]*hclsyntax.Attribute{}
	for i, tok := range toks {
		if tok.Type != hclsyntax.TokenOBrace || !isBlockHeader(toks, i) {
			continue
		}
		segs := oneLineArguments(toks, i)
		if len(segs) < 2 {
			continue
		}
		if out == nil {
			out = append([]byte(nil), src...)
		}
		for _, seg := range segs[1:] {
			name, eq, first, last := seg[0], seg[1], seg[2], seg[len(seg)-1]
			exprSrc := src[first.Range.Start.Byte:last.Range.End.Byte]
			expr, exprDiags := hclsyntax.ParseExpression(exprSrc, filename, first.Range.Start)
			diags = append(diags, exprDiags...)
			extras[tok.Range.Start.Byte] = append(extras[tok.Range.Start.Byte], &hclsyntax.Attribute{
				Name:        string(name.Bytes),
				Expr:        expr,
				SrcRange:    hcl.RangeBetween(name.Range, last.Range),
				NameRange:   name.Range,
				EqualsRange: eq.Range,
			})
			for b := name.Range.Start.Byte; b < last.Range.End.Byte; b++ {
				out[b] = ' '
			}
		}
	}
	if out == nil {
		return src, nil, diags
	}
	return out, extras, diags
}

// isBlockHeader reports whether the brace at toks[i] opens a block: it must
// follow NAME and optional labels at the start of a line. An object
// constructor brace follows "=", "[", "," or "(" instead.
func isBlockHeader(toks hclsyntax.Tokens, i int) bool {
	j, n := i-1, 0
walk:
	for j >= 0 {
		switch toks[j].Type {
		case hclsyntax.TokenIdent:
			j--
			n++
		case hclsyntax.TokenCQuote:
			j--
			for j >= 0 && toks[j].Type == hclsyntax.TokenQuotedLit {
				j--
			}
			if j < 0 || toks[j].Type != hclsyntax.TokenOQuote {
				return false
			}
			j--
			n++
		case hclsyntax.TokenNewline, hclsyntax.TokenComment:
			break walk
		default:
			return false
		}
	}
	return n > 0 && toks[j+1].Type == hclsyntax.TokenIdent
}

// oneLineArguments splits the body of the single-line block opened at
// toks[open] into NAME = EXPR token runs, or returns nil if the body is not
// exactly that shape.
func oneLineArguments(toks hclsyntax.Tokens, open int) []hclsyntax.Tokens {
	var segs []hclsyntax.Tokens
	depth, start := 0, -1
	for k := open + 1; k < len(toks); k++ {
		t := toks[k].Type
		switch t {
		case hclsyntax.TokenNewline, hclsyntax.TokenComment, hclsyntax.TokenEOF,
			hclsyntax.TokenOHeredoc, hclsyntax.TokenComma:
			if depth == 0 || t != hclsyntax.TokenComma {
				return nil
			}
		}
		if depth == 0 {
			if t == hclsyntax.TokenCBrace {
				if start < 0 || k-start < 3 {
					return nil
				}
				return append(segs, toks[start:k])
			}
			if t == hclsyntax.TokenIdent && k+1 < len(toks) && toks[k+1].Type == hclsyntax.TokenEqual {
				if start >= 0 {
					if k-start < 3 {
						return nil
					}
					segs = append(segs, toks[start:k])
				}
				start = k
			} else if start < 0 {
				return nil
			}
		}
		switch t {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			depth++
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenCQuote, hclsyntax.TokenTemplateSeqEnd:
			depth--
		}
	}
	return nil
}

// attachExtras puts the cut-out arguments back into their blocks, with the
// same duplicate check HCL applies to arguments on separate lines.
func attachExtras(body *hclsyntax.Body, extras map[int][]*hclsyntax.Attribute) hcl.Diagnostics {
	if len(extras) == 0 {
		return nil
	}
	var diags hcl.Diagnostics
	for _, blk := range body.Blocks {
		for _, a := range extras[blk.OpenBraceRange.Start.Byte] {
			if blk.Body.Attributes == nil {
				blk.Body.Attributes = hclsyntax.Attributes{}
			}
			if prev := blk.Body.Attributes[a.Name]; prev != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate argument",
					Detail:   "Argument \"" + a.Name + "\" was already set at " + prev.NameRange.String() + ". Each argument may be set only once.",
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			blk.Body.Attributes[a.Name] = a
		}
		diags = append(diags, attachExtras(blk.Body, extras)...)
	}
	return diags
}
