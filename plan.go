package tierup

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// Plan is one purchasable plan of the catalog: a tier (hobby, pro, team) at
// one billing interval.
type Plan struct {
	ID             string       `json:"id" doc:"Plan ID, e.g. pro-3m."`
	Tier           string       `json:"tier" doc:"Tier the plan belongs to; tiers are ranked by the catalog."`
	Name           string       `json:"name" doc:"Human-readable name."`
	IntervalMonths int          `json:"interval_months" doc:"Length of a billing period in calendar months; 0 for a free plan with no end date."`
	Price          Money        `json:"price" doc:"Price of one billing period."`
	Retired        bool         `json:"retired,omitempty" doc:"A retired plan can no longer be bought."`
	Limits         Limits       `json:"limits"`
	Entitlements   Entitlements `json:"entitlements"`
	Features       []string     `json:"features" doc:"Human-readable lines for the comparison screen."`
}

// Free reports whether the plan has no price and no end date.
func (p *Plan) Free() bool { return p.IntervalMonths == 0 }

// NodeCount is how many dedicated nodes an upgrade to the plan provisions:
// its dedicated_nodes, and at least one (a plan on the shared pool has
// always been given one).
func (p *Plan) NodeCount() int { return max(1, int(p.Limits.DedicatedNodes)) }

// Limits are a plan's numeric quotas. A nil count means unlimited and is
// encoded as JSON null.
type Limits struct {
	Functions           *int64 `json:"functions" nullable:"true" doc:"Maximum number of Functions; null means unlimited."`
	CronJobs            *int64 `json:"cronjobs" nullable:"true" doc:"Maximum number of CronJobs; null means unlimited."`
	StorageGB           int64  `json:"storage_gb" doc:"Storage quota in GB (1 GB = 1000 MB)."`
	DedicatedNodes      int64  `json:"dedicated_nodes" doc:"Dedicated nodes included; 0 means the shared node pool."`
	BackupRetentionDays int64  `json:"backup_retention_days" doc:"Days daily backups are kept; 0 means no backups."`
}

// Entitlements are the qualitative features of a plan.
type Entitlements struct {
	NodePool             string   `json:"node_pool" enum:"shared,dedicated"`
	StorageClass         string   `json:"storage_class" enum:"standard,ssd"`
	AIOps                []string `json:"aiops" doc:"AIOps capabilities: monitoring, alerts, anomaly_detection, predictive_scaling."`
	Backups              string   `json:"backups" enum:"none,daily"`
	Support              string   `json:"support" enum:"community,priority_email"`
	SupportResponseHours int      `json:"support_response_hours,omitempty" doc:"Guaranteed first response time for priority support."`
	UptimeSLA            string   `json:"uptime_sla,omitempty" doc:"Uptime guarantee in percent, e.g. \"99.9\"; absent when there is none."`
}

// Catalog is the ranked list of tiers and the plans on sale. It is read-only
// once loaded.
type Catalog struct {
	tiers       []string
	defaultPlan string
	plans       []Plan
	byID        map[string]*Plan
}

//go:embed catalog.json
var defaultCatalog []byte

// DefaultCatalog returns the built-in catalog.
func DefaultCatalog() *Catalog {
	c, err := ParseCatalog(bytes.NewReader(defaultCatalog))
	if err != nil {
		panic("tierup: built-in catalog is invalid: " + err.Error())
	}
	return c
}

// The bounds of a catalog's plans. Past them the quote engine's
// arithmetic would overflow: a period's value, price plus the unused value
// it takes over, is summed in 64 bits and a period's length in seconds must
// fit a time.Duration.
const (
	MaxIntervalMonths = 120               // ten years
	MaxPrice          = 1_000_000_000_000 // in the currency's minor unit: USD 10 000 000 000
)

// ParseCatalog reads and validates a catalog document:
// {"tiers": ["hobby", "pro", …], "default_plan": "hobby", "plans": [Plan, …]}.
// The default plan, which new accounts get, must be one of the plans and
// on sale; without default_plan it is the first plan on sale.
func ParseCatalog(r io.Reader) (*Catalog, error) {
	var doc struct {
		Tiers       []string `json:"tiers"`
		DefaultPlan string   `json:"default_plan"`
		Plans       []Plan   `json:"plans"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	c := &Catalog{tiers: doc.Tiers, defaultPlan: doc.DefaultPlan, plans: doc.Plans, byID: map[string]*Plan{}}
	if len(c.tiers) == 0 {
		return nil, fmt.Errorf("catalog: no tiers")
	}
	for i := range c.plans {
		p := &c.plans[i]
		switch {
		case p.ID == "":
			return nil, fmt.Errorf("catalog: plan %d has no id", i)
		case c.byID[p.ID] != nil:
			return nil, fmt.Errorf("catalog: plan %q appears twice", p.ID)
		case !slices.Contains(c.tiers, p.Tier):
			return nil, fmt.Errorf("catalog: plan %q has unknown tier %q", p.ID, p.Tier)
		case p.IntervalMonths < 0:
			return nil, fmt.Errorf("catalog: plan %q has a negative interval", p.ID)
		case p.IntervalMonths > MaxIntervalMonths:
			return nil, fmt.Errorf("catalog: plan %q has an interval of more than %d months", p.ID, MaxIntervalMonths)
		case p.Price.Amount < 0:
			return nil, fmt.Errorf("catalog: plan %q has a negative price", p.ID)
		case p.Price.Amount > MaxPrice:
			return nil, fmt.Errorf("catalog: plan %q has a price of more than %d minor units", p.ID, int64(MaxPrice))
		case p.Free() && p.Price.Amount != 0:
			return nil, fmt.Errorf("catalog: plan %q has no interval but a price", p.ID)
		}
		if _, ok := p.Price.Currency.Exponent(); !ok {
			return nil, fmt.Errorf("catalog: plan %q has unknown currency %q", p.ID, p.Price.Currency)
		}
		c.byID[p.ID] = p
	}
	if c.defaultPlan == "" {
		for _, p := range c.plans {
			if !p.Retired {
				c.defaultPlan = p.ID
				break
			}
		}
	}
	switch def := c.byID[c.defaultPlan]; {
	case c.defaultPlan == "":
		return nil, fmt.Errorf("catalog: no plan on sale to be the default")
	case def == nil:
		return nil, fmt.Errorf("catalog: default_plan %q is not a plan of the catalog", c.defaultPlan)
	case def.Retired:
		return nil, fmt.Errorf("catalog: default_plan %q is retired", c.defaultPlan)
	}
	return c, nil
}

// DefaultPlan is the plan new accounts get when none is named.
func (c *Catalog) DefaultPlan() *Plan { return c.byID[c.defaultPlan] }

// Plans returns every plan, retired ones included, in catalog order.
func (c *Catalog) Plans() []Plan { return slices.Clone(c.plans) }

// Plan returns the plan with the given ID or ErrUnknownPlan.
func (c *Catalog) Plan(id string) (*Plan, error) {
	p, ok := c.byID[id]
	if !ok {
		return nil, Errorf(CodeUnknownPlan, "there is no plan %q", id)
	}
	return p, nil
}

// TierRank returns the position of the tier in the catalog's ranking (0 is
// the lowest) or -1.
func (c *Catalog) TierRank(tier string) int { return slices.Index(c.tiers, tier) }

// CheckUpgrade says whether moving from one plan to another is an upgrade:
// a higher tier at any interval, or the same tier with a longer interval.
// It returns nil or one of ErrUnknownPlan, ErrPlanUnavailable, ErrSamePlan,
// ErrNotAnUpgrade, ErrCurrencyMismatch.
func (c *Catalog) CheckUpgrade(from, to *Plan) error {
	if to.ID == from.ID {
		return Errorf(CodeSamePlan, "you are already on %s", to.Name)
	}
	if to.Retired {
		return Errorf(CodePlanUnavailable, "%s is no longer offered", to.Name)
	}
	fromRank, toRank := c.TierRank(from.Tier), c.TierRank(to.Tier)
	switch {
	case toRank < fromRank:
		return Errorf(CodeNotAnUpgrade, "%s is a lower tier than your current plan %s; only upgrades are possible here", to.Name, from.Name)
	case toRank == fromRank && to.IntervalMonths <= from.IntervalMonths:
		return Errorf(CodeNotAnUpgrade, "%s is not longer than your current plan %s; within a tier you can only move to a longer period", to.Name, from.Name)
	}
	if !from.Free() && from.Price.Currency != to.Price.Currency {
		return Errorf(CodeCurrencyMismatch, "%s is billed in %s but your current plan is billed in %s", to.Name, to.Price.Currency, from.Price.Currency)
	}
	return nil
}
