// Package metrics exposes tierup's metrics in the Prometheus text format.
// It implements tierup.Metrics for the workflow, times the payment gateway
// and the cluster through decorators, times HTTP requests by route
// template, and reads the store's counts when scraped.
//
// Every metric lives on the Registry of one *Metrics, never on
// prometheus.DefaultRegisterer: two services in one process (the tests)
// do not share counters. Label values are bounded sets — steps, outcomes,
// operations, route templates, known codes — and never IDs.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tierup/tierup"
)

// Metrics is the Prometheus registry of one service and its instruments.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	upgradesStarted  prometheus.Counter
	upgradesFinished *prometheus.CounterVec
	stepDuration     *prometheus.HistogramVec
	payments         *prometheus.CounterVec
	refunds          prometheus.Counter
	pauses           *prometheus.CounterVec
	needsSupport     *prometheus.CounterVec
	gatewayDuration  *prometheus.HistogramVec
	clusterDuration  *prometheus.HistogramVec
	httpDuration     *prometheus.HistogramVec
	httpHeld         prometheus.Counter
	streamsOpen      prometheus.Gauge
}

var _ tierup.Metrics = (*Metrics)(nil)

// New builds the instruments on a fresh registry, with the Go runtime's
// and the process's collectors.
func New(log *slog.Logger) *Metrics {
	reg := prometheus.NewRegistry()
	f := factory{reg}
	// Steps take from milliseconds (activate) to many minutes (a migration
	// of many rollouts); calls from milliseconds to a rollout's wait.
	stepBuckets := []float64{.01, .05, .25, 1, 5, 15, 60, 300, 900, 1800}
	callBuckets := []float64{.005, .025, .1, .5, 1, 2.5, 5, 15, 60, 300}
	m := &Metrics{reg: reg, log: log,
		upgradesStarted: f.counter("tierup_upgrades_started_total", "Upgrades whose first step ran."),
		upgradesFinished: f.counterVec("tierup_upgrades_finished_total",
			"Upgrades that ended, by outcome: completed or canceled.", "outcome"),
		stepDuration: f.histogramVec("tierup_step_duration_seconds",
			"How long a step's work took, by step and outcome (succeeded, skipped, progress, retry, paused, declined, needs_support, awaiting_customer, canceled, handed_back).",
			stepBuckets, "step", "outcome"),
		payments: f.counterVec("tierup_payment_attempts_total",
			"Payment steps' final outcomes: succeeded, declined (with a bounded decline code) or error.", "outcome", "decline_code"),
		refunds: f.counter("tierup_refunds_total", "Refunds the gateway made."),
		pauses: f.counterVec("tierup_pauses_total",
			"Upgrades that paused on an unreachable dependency, by reason code.", "reason"),
		needsSupport: f.counterVec("tierup_needs_support_total",
			"Upgrades handed to support, by the step that gave up.", "step"),
		gatewayDuration: f.histogramVec("tierup_gateway_call_duration_seconds",
			"Payment gateway calls by operation and outcome (ok or error).", callBuckets, "op", "outcome"),
		clusterDuration: f.histogramVec("tierup_cluster_call_duration_seconds",
			"Cluster calls by operation and outcome (ok or error).", callBuckets, "op", "outcome"),
		httpDuration: f.histogramVec("tierup_http_request_duration_seconds",
			"HTTP requests by method, route template and status.", prometheus.DefBuckets, "method", "route", "status"),
		httpHeld: f.counter("tierup_http_held_total",
			"Requests held because they came on a connection sooner than the Retry-After of its last overloaded 503, counted as the hold begins."),
		streamsOpen: f.gauge("tierup_event_streams_open", "Server-sent event streams open now."),
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for tests and further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format. A collector
// that fails (the database is down) is logged and left out: the rest is
// still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError,
		ErrorLog: slogPrinter{m.log}, Registry: m.reg})
}

// UpgradeStarted implements tierup.Metrics.
func (m *Metrics) UpgradeStarted() { m.upgradesStarted.Inc() }

// UpgradeFinished implements tierup.Metrics.
func (m *Metrics) UpgradeFinished(outcome string) {
	m.upgradesFinished.WithLabelValues(oneOf(outcome, "completed", "canceled")).Inc()
}

// StepFinished implements tierup.Metrics.
func (m *Metrics) StepFinished(step tierup.StepName, outcome string, d time.Duration) {
	m.stepDuration.WithLabelValues(stepLabel(step), oneOf(outcome, stepOutcomes...)).Observe(d.Seconds())
}

// PaymentAttempt implements tierup.Metrics.
func (m *Metrics) PaymentAttempt(outcome, declineCode string) {
	m.payments.WithLabelValues(oneOf(outcome, "succeeded", "declined", "error"), DeclineCode(declineCode)).Inc()
}

// Paused implements tierup.Metrics.
func (m *Metrics) Paused(code string) { m.pauses.WithLabelValues(oneOf(code, pauseReasons...)).Inc() }

// NeedsSupport implements tierup.Metrics.
func (m *Metrics) NeedsSupport(step tierup.StepName) {
	m.needsSupport.WithLabelValues(stepLabel(step)).Inc()
}

// GatewayCall implements tierup.Metrics.
func (m *Metrics) GatewayCall(op, outcome string, d time.Duration) {
	m.gatewayDuration.WithLabelValues(op, outcome).Observe(d.Seconds())
}

// ClusterCall implements tierup.Metrics.
func (m *Metrics) ClusterCall(op, outcome string, d time.Duration) {
	m.clusterDuration.WithLabelValues(op, outcome).Observe(d.Seconds())
}

// The bounded label values. Anything else becomes "other".
var (
	stepOutcomes = []string{"succeeded", "skipped", "progress", "retry", "paused", "declined", "needs_support",
		"awaiting_customer", "canceled", "handed_back"}
	pauseReasons = []string{string(tierup.CodeClusterUnreachable), string(tierup.CodeGatewayUnavailable),
		string(tierup.PayCodeTimeout), string(tierup.PayCodeRateLimited), string(tierup.PayCodeProcessingError)}
	// declineCodes are the card networks' common reasons (Stripe's
	// decline_code values); the rest are rare enough to be "other".
	declineCodes = []string{"generic_decline", "insufficient_funds", "lost_card", "stolen_card", "expired_card",
		"incorrect_cvc", "incorrect_number", "card_velocity_exceeded", "do_not_honor", "fraudulent", "card_not_supported",
		"currency_not_supported", "pickup_card", "restricted_card", "security_violation", "transaction_not_allowed",
		"try_again_later", "withdrawal_count_limit_exceeded", "authentication_required", "processing_error"}
	steps = []tierup.StepName{tierup.StepPayment, tierup.StepActivatePlan, tierup.StepProvisionNode,
		tierup.StepMigrateWorkloads, tierup.StepEnableFeatures, tierup.StepNotify}
)

// DeclineCode bounds a gateway's decline code to a known set: "none" for
// none, "other" for any code not in the set.
func DeclineCode(code string) string {
	if code == "" {
		return "none"
	}
	return oneOf(code, declineCodes...)
}

func stepLabel(s tierup.StepName) string {
	for _, k := range steps {
		if s == k {
			return string(s)
		}
	}
	return "other"
}

func oneOf(v string, allowed ...string) string {
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	return "other"
}

func outcomeOf(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// factory registers each instrument as it is made.
type factory struct{ reg prometheus.Registerer }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// slogPrinter logs promhttp's collection errors.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.LogAttrs(context.Background(), slog.LevelWarn, "metrics collection", slog.String("err", fmt.Sprint(v...)))
}
