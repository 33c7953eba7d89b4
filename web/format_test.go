package web

import (
	"testing"

	"github.com/tierup/tierup"
)

// Templates pass typed statuses (tierup.StepStatus, WorkloadState …) to
// human and title, not only strings.
func TestHumanAndTitle(t *testing.T) {
	for _, tc := range []struct {
		in           any
		human, title string
	}{
		{tierup.WorkloadRolledBack, "rolled back", "Rolled back"},
		{tierup.StepSucceeded, "succeeded", "Succeeded"},
		{"needs_support", "needs support", "Needs support"},
		{"", "", ""},
	} {
		if got := human(tc.in); got != tc.human {
			t.Errorf("human(%v) = %q, want %q", tc.in, got, tc.human)
		}
		if got := title(tc.in); got != tc.title {
			t.Errorf("title(%v) = %q, want %q", tc.in, got, tc.title)
		}
	}
}
