// Command testreport reads `go test -json` on stdin and prints what a
// plain `go test` would (each package's result; the output of a test that
// failed, or of a package that failed while a test ran), followed by the
// slowest top-level tests, so that the test command's log says where its
// time goes. scripts/test.sh pipes the whole run through it.
//
//	go test -json ./... | go run ./internal/testreport -slowest 15
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// event is one line of test2json's output (go doc test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64 // seconds, on pass and fail
	Output  string
}

// timing is how long a top-level test took.
type timing struct {
	Package, Test string
	Elapsed       time.Duration
}

func main() {
	slowest := flag.Int("slowest", 15, "how many of the slowest top-level tests to list at the end (0: none)")
	flag.Parse()
	if err := report(os.Stdin, os.Stdout, *slowest); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(1)
	}
}

// report copies the results from r to w. A line that is not JSON (go
// test's own messages, a build error) is printed as it is.
func report(r io.Reader, w io.Writer, slowest int) error {
	type key struct{ pkg, test string }
	held := map[key][]string{} // a running test's output, shown if it fails
	var times []timing
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		k := key{e.Package, e.Test}
		switch {
		case e.Action == "build-output":
			fmt.Fprint(w, e.Output)
		case e.Test != "" && e.Action == "output":
			held[k] = append(held[k], e.Output)
		case e.Test != "" && (e.Action == "pass" || e.Action == "skip"):
			delete(held, k)
			if e.Action == "pass" && !strings.Contains(e.Test, "/") {
				times = append(times, timing{e.Package, e.Test, seconds(e.Elapsed)})
			}
		case e.Test != "" && e.Action == "fail":
			fmt.Fprint(w, strings.Join(held[k], ""))
			delete(held, k)
		case e.Test == "" && e.Action == "output":
			// As go test prints a package that passed without -v: its
			// "ok" line, not the test binary's "PASS".
			if e.Output != "PASS\n" && e.Output != "testing: warning: no tests to run\n" {
				fmt.Fprint(w, e.Output)
			}
		case e.Test == "" && e.Action == "fail":
			// A package that failed with tests still running (a panic, a
			// time-out): what they printed says where.
			for hk, out := range held {
				if hk.pkg == e.Package {
					fmt.Fprint(w, strings.Join(out, ""))
					delete(held, hk)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if slowest > 0 && len(times) > 0 {
		sort.Slice(times, func(i, j int) bool { return times[i].Elapsed > times[j].Elapsed })
		fmt.Fprintf(w, "slowest tests:\n")
		for _, t := range times[:min(slowest, len(times))] {
			fmt.Fprintf(w, "%8s  %s %s\n", t.Elapsed.Round(100*time.Millisecond), t.Package, t.Test)
		}
	}
	return nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
