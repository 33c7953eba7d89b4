package main

import (
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		slowest int
		want    string
	}{
		{
			name: "a passing package shows its ok line only",
			in: []string{
				`{"Action":"run","Package":"p","Test":"TestA"}`,
				`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
				`{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: noise\n"}`,
				`{"Action":"pass","Package":"p","Test":"TestA","Elapsed":1.5}`,
				`{"Action":"output","Package":"p","Output":"PASS\n"}`,
				`{"Action":"output","Package":"p","Output":"ok  \tp\t1.6s\n"}`,
				`{"Action":"pass","Package":"p","Elapsed":1.6}`,
			},
			want: "ok  \tp\t1.6s\n",
		},
		{
			name: "a failed test shows what it printed, a passed or skipped one not",
			in: []string{
				`{"Action":"output","Package":"p","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
				`{"Action":"pass","Package":"p","Test":"TestOK","Elapsed":0.1}`,
				`{"Action":"output","Package":"p","Test":"TestSkip","Output":"--- SKIP: TestSkip\n"}`,
				`{"Action":"skip","Package":"p","Test":"TestSkip"}`,
				`{"Action":"output","Package":"p","Test":"TestBad","Output":"=== RUN   TestBad\n"}`,
				`{"Action":"output","Package":"p","Test":"TestBad","Output":"    bad_test.go:3: want 1, got 2\n"}`,
				`{"Action":"output","Package":"p","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}`,
				`{"Action":"fail","Package":"p","Test":"TestBad","Elapsed":0}`,
				`{"Action":"output","Package":"p","Output":"FAIL\n"}`,
				`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.2s\n"}`,
				`{"Action":"fail","Package":"p","Elapsed":0.2}`,
			},
			want: "=== RUN   TestBad\n    bad_test.go:3: want 1, got 2\n--- FAIL: TestBad (0.00s)\nFAIL\nFAIL\tp\t0.2s\n",
		},
		{
			name: "a package that dies mid-test shows the running test's output",
			in: []string{
				`{"Action":"output","Package":"p","Test":"TestHang","Output":"=== RUN   TestHang\n"}`,
				`{"Action":"output","Package":"p","Test":"TestHang","Output":"panic: test timed out after 1m0s\n"}`,
				`{"Action":"output","Package":"p","Output":"FAIL\tp\t60.0s\n"}`,
				`{"Action":"fail","Package":"p","Elapsed":60}`,
			},
			want: "FAIL\tp\t60.0s\n=== RUN   TestHang\npanic: test timed out after 1m0s\n",
		},
		{
			name: "build errors and lines that are not JSON pass through",
			in: []string{
				`# p`,
				`{"ImportPath":"p","Action":"build-output","Output":"./a.go:1:1: syntax error\n"}`,
				`{"Action":"output","Package":"p","Output":"FAIL\tp [build failed]\n"}`,
			},
			want: "# p\n./a.go:1:1: syntax error\nFAIL\tp [build failed]\n",
		},
		{
			name: "the slowest top-level tests, longest first, subtests left out",
			in: []string{
				`{"Action":"pass","Package":"p","Test":"TestFast","Elapsed":0.25}`,
				`{"Action":"pass","Package":"p","Test":"TestSlow/sub","Elapsed":9}`,
				`{"Action":"pass","Package":"p","Test":"TestSlow","Elapsed":9.04}`,
				`{"Action":"pass","Package":"q","Test":"TestMiddle","Elapsed":2}`,
			},
			slowest: 2,
			want:    "slowest tests:\n      9s  p TestSlow\n      2s  q TestMiddle\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			if err := report(strings.NewReader(strings.Join(tt.in, "\n")+"\n"), &out, tt.slowest); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}
}
