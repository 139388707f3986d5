package host_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func init() {
	plugins["passthrough"] = "plugins/testplugins/passthrough"
}

// BenchmarkChainHello is the hello plugin behind 0, 1 and 3 pass-through
// middleware: the difference per added link is what a link costs (its own
// instance, a goroutine for the downstream, and the events crossing).
//
//	go test -run XXX -bench ChainHello -benchtime 2000x ./host/
func BenchmarkChainHello(b *testing.B) {
	for _, n := range []int{0, 1, 3} {
		b.Run(fmt.Sprintf("links=%d", n), func(b *testing.B) {
			var site, names strings.Builder
			for i := 1; i <= n; i++ {
				fmt.Fprintf(&site, "plugin \"p%d\" { path = \"{{passthrough}}\" }\n", i)
				fmt.Fprintf(&names, "\"p%d\", ", i)
			}
			fmt.Fprintf(&site, "plugin \"hello\" {\n  path = \"{{hello}}\"\n  mount = \"/\"\n  middleware = [%s]\n}\n", strings.TrimSuffix(names.String(), ", "))
			s := startSiteLogging(b, site.String(), hclog.Warn)
			benchmarkHandler(b, s.srv, "/")
		})
	}
}
