package web

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/tierup/tierup"
)

// funcs are the templates' helpers.
// statuses gives the templates the domain's status constants, so that no
// template spells a status itself: {{if eq $u.Status is.Completed}}.
type statuses struct{}

func (statuses) Completed() tierup.UpgradeStatus     { return tierup.UpgradeCompleted }
func (statuses) PaymentFailed() tierup.UpgradeStatus { return tierup.UpgradePaymentFailed }
func (statuses) Paused() tierup.UpgradeStatus        { return tierup.UpgradePaused }
func (statuses) PaymentActionRequired() tierup.UpgradeStatus {
	return tierup.UpgradePaymentActionRequired
}
func (statuses) ChargeRequiresAction() tierup.ChargeStatus { return tierup.ChargeRequiresAction }
func (statuses) Redirect() string                          { return tierup.NextActionRedirect }
func (statuses) NeedsSupport() tierup.UpgradeStatus        { return tierup.UpgradeNeedsSupport }
func (statuses) Canceled() tierup.UpgradeStatus            { return tierup.UpgradeCanceled }
func (statuses) Refunded() tierup.PaymentStatus            { return tierup.PaymentRefunded }
func (statuses) StepSucceeded() tierup.StepStatus          { return tierup.StepSucceeded }
func (statuses) Expired() string                           { return tierup.StatusExpired }

func funcs() template.FuncMap {
	return template.FuncMap{
		"is":       func() statuses { return statuses{} },
		"money":    tierup.Money.String,
		"when":     when,
		"date":     date,
		"limit":    limitText,
		"pct":      percent,
		"meter":    meterClass,
		"gb":       gigabytes,
		"duration": tierup.HumanDuration,
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"title":    title,
		"human":    human,
		"brand":    tierup.BrandName,
		"inc":      func(i int) int { return i + 1 },
		"deref":    func(t *time.Time) time.Time { return *t },
		"deref2":   func(m *tierup.Money) tierup.Money { return *m },
		"list":     func(xs ...int) []int { return xs },
		"pdf":      tierup.ReceiptPDFPath,
		"join":     strings.Join,
	}
}

// human shows a code such as a status ("rolled_back", any string type) in
// words.
func human(code any) string { return strings.ReplaceAll(fmt.Sprint(code), "_", " ") }

// title is human with a capital first letter.
func title(code any) string {
	s := human(code)
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// gigabytes shows megabytes as GB with one decimal, for display only.
func gigabytes(mb int64) string { return strconv.FormatFloat(float64(mb)/1000, 'f', 1, 64) }

// when shows an instant in the account's zone, to the second.
func when(t time.Time, zone string) string { return tierup.TimeWords(t, zoneOf(zone)) }

// date shows the day of an instant in the account's zone.
func date(t time.Time, zone string) string { return tierup.DateWords(t, zoneOf(zone)) }

func zoneOf(zone string) *time.Location {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.UTC
	}
	return loc
}

func limitText(n *int64) string {
	if n == nil {
		return "Unlimited"
	}
	return strconv.FormatInt(*n, 10)
}

// percent is how full a meter is, 0–100; 0 for an unlimited one.
func percent(used int64, limit *int64) int {
	if limit == nil || *limit <= 0 {
		return 0
	}
	return int(min(100, used*100 / *limit))
}

// meterClass names the meter's state; the page also says it in words, so
// colour is never the only signal.
func meterClass(used int64, limit *int64) string {
	switch p := percent(used, limit); {
	case limit != nil && used >= *limit:
		return "full"
	case p >= 80:
		return "near"
	}
	return "ok"
}
