package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/sqlstore"
)

// StallAfter is how long an active upgrade may go unchanged before it
// counts as stalled: a running step saves when it starts, progresses and
// ends, and a paused one on each probe, so none should be quiet this long.
const StallAfter = 30 * time.Minute

// scrapeTimeout bounds the store's reads on one scrape.
const scrapeTimeout = 5 * time.Second

// activeStatuses are the statuses an active upgrade can have: each is
// reported, zero or not, so that dashboards and alerts see every series.
var activeStatuses = []tierup.UpgradeStatus{tierup.UpgradeProcessing, tierup.UpgradePaymentFailed,
	tierup.UpgradePaymentActionRequired, tierup.UpgradePaused, tierup.UpgradeNeedsSupport}

// WatchStore adds the store's gauges, read on each scrape: active and
// stalled upgrades by status, the job queue's depth, the connection
// pool's statistics, and SQLite's background checkpoints.
func (m *Metrics) WatchStore(db *sqlstore.DB) {
	m.reg.MustRegister(&storeCollector{db: db,
		active: prometheus.NewDesc("tierup_upgrades_active", "Active upgrades by status.", []string{"status"}, nil),
		stalled: prometheus.NewDesc("tierup_upgrades_stalled",
			"Active upgrades by status that have not changed for over 30 minutes.", []string{"status"}, nil),
		queue: prometheus.NewDesc("tierup_job_queue_depth",
			"Jobs waiting in the queue by state: available (due), scheduled (later), retryable.", []string{"state"}, nil),
		conns: prometheus.NewDesc("tierup_db_connections",
			"Database connections by state: in_use or idle.", []string{"state"}, nil),
		maxConns: prometheus.NewDesc("tierup_db_connections_max", "The connection pool's limit (0: none).", nil, nil),
		waits: prometheus.NewDesc("tierup_db_waits_total",
			"Times a caller waited for a free connection.", nil, nil),
		waited: prometheus.NewDesc("tierup_db_wait_seconds_total",
			"Time spent waiting for free connections.", nil, nil),
		checkpoints: prometheus.NewDesc("tierup_sqlite_checkpoints_total",
			"SQLite's background checkpoints by result: complete (the whole WAL copied into the database file) or incomplete (failed, or held back by a reader).",
			[]string{"result"}, nil),
	})
}

type storeCollector struct {
	db                                                                  *sqlstore.DB
	active, stalled, queue, conns, maxConns, waits, waited, checkpoints *prometheus.Desc
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.active, c.stalled, c.queue, c.conns, c.maxConns, c.waits, c.waited, c.checkpoints} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	c.upgrades(ctx, ch)
	c.jobs(ctx, ch)
	c.pool(ch)
}

func (c *storeCollector) upgrades(ctx context.Context, ch chan<- prometheus.Metric) {
	counts, err := c.db.UpgradeCounts(ctx, StallAfter)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.active, err)
		return
	}
	active, stalled := map[string]int{}, map[string]int{}
	for _, s := range activeStatuses {
		active[string(s)], stalled[string(s)] = 0, 0
	}
	for _, n := range counts {
		s := string(n.Status)
		if _, known := active[s]; !known {
			s = "other" // a status this build does not know: bounded still
		}
		active[s] += n.Active
		stalled[s] += n.Stalled
	}
	for s, n := range active {
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(n), s)
		ch <- prometheus.MustNewConstMetric(c.stalled, prometheus.GaugeValue, float64(stalled[s]), s)
	}
}

func (c *storeCollector) jobs(ctx context.Context, ch chan<- prometheus.Metric) {
	depth, err := c.db.QueuedJobs(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.queue, err)
		return
	}
	for state, n := range depth {
		ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(n), oneOf(state, "available", "scheduled", "retryable"))
	}
}

// pool reports pgxpool's statistics for PostgreSQL (whose database/sql
// handle only runs migrations) and database/sql's for SQLite.
func (c *storeCollector) pool(ch chan<- prometheus.Metric) {
	var inUse, idle, limit, waits int64
	var waited time.Duration
	if p := c.db.Pool(); p != nil {
		st := p.Stat()
		inUse, idle, limit = int64(st.AcquiredConns()), int64(st.IdleConns()), int64(st.MaxConns())
		waits, waited = st.EmptyAcquireCount(), st.EmptyAcquireWaitTime()
	} else {
		st := c.db.SQLDB().Stats()
		inUse, idle, limit = int64(st.InUse), int64(st.Idle), int64(st.MaxOpenConnections)
		waits, waited = st.WaitCount, st.WaitDuration
	}
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(inUse), "in_use")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(idle), "idle")
	ch <- prometheus.MustNewConstMetric(c.maxConns, prometheus.GaugeValue, float64(limit))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(waits))
	ch <- prometheus.MustNewConstMetric(c.waited, prometheus.CounterValue, waited.Seconds())
	if complete, incomplete, ok := c.db.Checkpoints(); ok {
		ch <- prometheus.MustNewConstMetric(c.checkpoints, prometheus.CounterValue, float64(complete), "complete")
		ch <- prometheus.MustNewConstMetric(c.checkpoints, prometheus.CounterValue, float64(incomplete), "incomplete")
	}
}
