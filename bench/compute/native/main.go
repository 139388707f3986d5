// Command native runs the compute benchmark's work natively, as the
// baseline for the plugin: -op sha (-n rounds) or -op md, -reps times,
// printing the result and the median wall time per repetition in ms.
package main

import (
	"flag"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/wasmhost/wasmhost/bench/compute/work"
)

func main() {
	op := flag.String("op", "sha", "sha or md")
	n := flag.Int("n", 2000, "SHA-256 rounds")
	reps := flag.Int("reps", 5, "repetitions")
	flag.Parse()
	doc := work.Document(300 << 10)
	var times []float64
	var result string
	for i := 0; i < *reps; i++ {
		start := time.Now()
		switch *op {
		case "sha":
			result = work.SHA256(*n)
		case "md":
			html, err := work.Markdown(doc)
			if err != nil {
				log.Fatal(err)
			}
			result = fmt.Sprint(len(html))
		default:
			log.Fatalf("unknown op %q", *op)
		}
		times = append(times, float64(time.Since(start).Microseconds())/1000)
	}
	slices.Sort(times)
	fmt.Printf("%s %.3f\n", result, times[len(times)/2])
}
