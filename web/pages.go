package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/eventstream"
	"github.com/tierup/tierup/internal/httpx"
)

type meter struct {
	Label, Used, Limit, State, Words string
	Percent                          int
}

func (s *Server) plan(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	a := v.Account
	plan, err := s.app.Catalog().Plan(a.Subscription.Plan)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ups, err := s.app.Upgrades(ctx, a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var active *tierup.Upgrade
	var nodes []tierup.Node // the dedicated nodes of the last completed upgrade
	for _, u := range ups {
		if u.Status.Active() && active == nil {
			active = u
		}
		if u.Status == tierup.UpgradeCompleted && nodes == nil && a.Entitlements.NodePool == "dedicated" {
			nodes = u.Nodes
		}
	}
	notes, err := s.app.Notifications(ctx, a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	storageLimit := a.Limits.StorageGB * 1000
	meters := []meter{
		countMeter("Functions", a.Usage.Functions, a.Limits.Functions, ""),
		countMeter("CronJobs", a.Usage.CronJobs, a.Limits.CronJobs, ""),
		countMeter("Storage", a.Usage.StorageMB, &storageLimit, "MB"),
	}
	meters[2].Used = gigabytes(a.Usage.StorageMB) + " GB"
	meters[2].Limit = fmt.Sprintf("%d GB %s", a.Limits.StorageGB, strings.ToUpper(a.Entitlements.StorageClass[:1])+a.Entitlements.StorageClass[1:])
	opts, err := s.app.UpgradeOptions(ctx, a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Title = "Plan"
	v.Data = map[string]any{"Plan": plan, "Meters": meters, "Active": active, "Nodes": nodes, "Notifications": notes,
		"Upgradable": app.CanUpgrade(opts)}
	s.render(w, r, http.StatusOK, "plan", v)
}

func countMeter(label string, used int64, limit *int64, _ string) meter {
	m := meter{Label: label, Used: strconv.FormatInt(used, 10), Limit: limitText(limit), Percent: percent(used, limit), State: meterClass(used, limit)}
	switch m.State {
	case "full":
		m.Words = "limit reached"
	case "near":
		m.Words = "near the limit"
	}
	if limit == nil {
		m.Words = "unlimited"
	}
	return m
}

type column struct {
	Tier     string
	Plan     tierup.Plan
	Current  bool
	Allowed  bool
	Reason   string
	Monthly  tierup.Money
	SavePct  int64
	Features []string
}

func (s *Server) compare(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	months, _ := strconv.Atoi(r.URL.Query().Get("months"))
	switch months {
	case 1, 3, 6, 12:
	default:
		months = 1
	}
	opts, err := s.app.UpgradeOptions(ctx, v.Account.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	monthly := map[string]tierup.Money{} // the tier's 1-month price, for savings
	for _, o := range opts {
		if o.Plan.IntervalMonths == 1 {
			monthly[o.Plan.Tier] = o.Plan.Price
		}
	}
	var cols []column
	seen := map[string]bool{}
	for _, o := range opts {
		p := o.Plan
		if seen[p.Tier] || p.Retired || (!p.Free() && p.IntervalMonths != months) {
			continue
		}
		seen[p.Tier] = true
		c := column{Tier: p.Tier, Plan: p, Current: o.Current, Allowed: o.Allowed}
		if !p.Free() {
			c.Monthly = tierup.Money{Amount: p.Price.Amount / int64(p.IntervalMonths), Currency: p.Price.Currency}
			if m, ok := monthly[p.Tier]; ok && m.Amount > 0 && months > 1 {
				c.SavePct = 100 - p.Price.Amount*100/(m.Amount*int64(months))
			}
		}
		switch {
		case c.Current:
			c.Reason = "This is your current plan."
		case o.Reason != nil:
			c.Reason = o.Reason.Error()
		}
		cols = append(cols, c)
	}
	v.Title = "Compare plans"
	v.Data = map[string]any{"Columns": cols, "Months": months, "Durations": []int{1, 3, 6, 12}}
	s.render(w, r, http.StatusOK, "compare", v)
}

func (s *Server) quote(w http.ResponseWriter, r *http.Request, v *view) {
	q, err := s.app.CreateQuote(r.Context(), v.Account.ID, r.PostForm.Get("plan"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/review/"+q.ID, http.StatusSeeOther)
}

// cardForm is what the card form shows again after an error: never the
// number or the security code.
type cardForm struct {
	Name, ExpMonth, ExpYear string
	Errors                  map[string]string
	TermsError              string
	Saved                   string // the saved card chosen (its ID), or "new"; "" preselects the default
}

func (s *Server) review(w http.ResponseWriter, r *http.Request, v *view) {
	s.showReview(w, r, v, cardForm{}, http.StatusOK)
}

func (s *Server) showReview(w http.ResponseWriter, r *http.Request, v *view, form cardForm, status int) {
	ctx := r.Context()
	q, err := s.app.Quote(ctx, v.Account.ID, r.PathValue("quote"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if q.Status == tierup.QuoteExpired {
		// Never charge an old price: get a fresh quote and say so.
		fresh, err := s.app.CreateQuote(ctx, v.Account.ID, q.ToPlan)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/review/"+fresh.ID+"?refreshed="+q.ID, http.StatusSeeOther)
		return
	}
	if old := r.URL.Query().Get("refreshed"); old != "" {
		v.Notice = "Your previous quote expired after " + tierup.HumanDuration(int64(s.app.QuoteTTL()/time.Second)) +
			", so this is a fresh one. Please check the figures again before paying."
		if prev, err := s.app.Quote(ctx, v.Account.ID, old); err == nil && prev.AmountDue != q.AmountDue {
			v.Notice += fmt.Sprintf(" The amount due changed from %s to %s.", prev.AmountDue.String(), q.AmountDue.String())
		}
	}
	to, _ := s.app.Catalog().Plan(q.ToPlan)
	from, _ := s.app.Catalog().Plan(q.FromPlan)
	version, _ := s.app.Terms()
	v.Title = "Review and pay"
	v.Data = map[string]any{"Quote": q, "To": to, "From": from, "Form": form, "TermsVersion": version,
		"Years": years(v.Account.Now), "Cards": s.savedCards(ctx, v), "Interruptions": s.interruptions(ctx, v.Account.ID, to)}
	s.render(w, r, status, "review", v)
}

// interruptions are the workloads the upgrade's move to a dedicated node
// cannot keep serving, each with why, from the migration's dry run: said
// before the user pays. A cluster that cannot be read now leaves them out
// (the move checks again, and the plan stays available from the API).
func (s *Server) interruptions(ctx context.Context, accountID string, to *tierup.Plan) []string {
	if to == nil || to.Entitlements.NodePool != "dedicated" {
		return nil
	}
	moves, err := s.app.AccountMigrationPlan(ctx, accountID)
	if err != nil {
		s.log.WarnContext(ctx, "review: no migration plan", "account", accountID, "err", err)
		return nil
	}
	var out []string
	for _, m := range moves {
		if m.Interruption != "" {
			out = append(out, m.Interruption)
		}
	}
	return out
}

func years(now time.Time) []int {
	out := make([]int, 0, 15)
	for y := now.Year(); y < now.Year()+15; y++ {
		out = append(out, y)
	}
	return out
}

// cardFrom reads the card fields of a form.
func cardFrom(r *http.Request) (tierup.Card, cardForm) {
	f := r.PostForm
	month, _ := strconv.Atoi(f.Get("exp_month"))
	year, _ := strconv.Atoi(f.Get("exp_year"))
	card := tierup.Card{Number: f.Get("number"), ExpMonth: month, ExpYear: year, CVC: f.Get("cvc"), Name: strings.TrimSpace(f.Get("name"))}
	return card, cardForm{Name: card.Name, ExpMonth: f.Get("exp_month"), ExpYear: f.Get("exp_year"), Errors: map[string]string{}}
}

// addCard creates the payment method or fills the form's errors.
func (s *Server) addCard(r *http.Request, v *view, card tierup.Card, form *cardForm) *tierup.PaymentMethod {
	pm, err := s.app.CreatePaymentMethod(r.Context(), v.Account.ID, card)
	if err == nil {
		return pm
	}
	var e *tierup.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		for _, fe := range e.Fields {
			form.Errors[strings.TrimPrefix(fe.Location, "body.card.")] = fe.Message
		}
	} else {
		form.Errors["card"] = err.Error()
		if httpx.StatusOf(err) == http.StatusInternalServerError {
			s.log.ErrorContext(r.Context(), "adding a card", "err", err)
			form.Errors["card"] = "Your card could not be saved. Please try again."
		}
	}
	return nil
}

func (s *Server) pay(w http.ResponseWriter, r *http.Request, v *view) {
	card, form := cardFrom(r)
	version, _ := s.app.Terms()
	if r.PostForm.Get("terms") != version {
		form.TermsError = "Accept the terms of service to continue."
	}
	var pm *tierup.PaymentMethod
	if form.TermsError == "" {
		pm = s.payingCard(r, v, card, &form)
	}
	if pm == nil {
		s.showReview(w, r, v, form, http.StatusUnprocessableEntity)
		return
	}
	quoteID := r.PathValue("quote")
	u, err := s.app.CreateUpgrade(r.Context(), v.Account.ID, app.NewUpgrade{Quote: quoteID, PaymentMethod: pm.ID, AcceptTerms: version,
		IP: httpx.ClientIP(r.RemoteAddr), UserAgent: r.UserAgent(), IdempotencyKey: "web:" + quoteID, BodyHash: "web:" + quoteID})
	if err != nil {
		if errors.Is(err, tierup.ErrQuoteExpired) {
			http.Redirect(w, r, "/review/"+quoteID, http.StatusSeeOther) // refreshed there, with a notice
			return
		}
		if errors.Is(err, tierup.ErrMigrationNotPossible) {
			// The Review page lists the reasons it checked again.
			v.Error = "Your workloads cannot move to dedicated nodes yet, so nothing was charged: see below."
			s.showReview(w, r, v, form, http.StatusUnprocessableEntity)
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/upgrades/"+u.ID, http.StatusSeeOther)
}

type stepRow struct {
	tierup.Step
	Label string
}

func stepLabel(s tierup.StepName) string {
	switch s {
	case tierup.StepPayment:
		return "Payment"
	case tierup.StepActivatePlan:
		return "Switch plan"
	case tierup.StepProvisionNode:
		return "Dedicated nodes"
	case tierup.StepMigrateWorkloads:
		return "Move workloads"
	case tierup.StepEnableFeatures:
		return "Turn on new features"
	}
	return "Notify"
}

func (s *Server) progress(w http.ResponseWriter, r *http.Request, v *view) {
	s.showProgress(w, r, v, cardForm{Errors: map[string]string{}}, http.StatusOK)
}

func (s *Server) showProgress(w http.ResponseWriter, r *http.Request, v *view, form cardForm, status int) {
	u, err := s.app.Upgrade(r.Context(), principal(v), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	to, _ := s.app.Catalog().Plan(u.ToPlan)
	rows := make([]stepRow, 0, len(u.Steps))
	for _, st := range u.Steps {
		rows = append(rows, stepRow{Step: st, Label: stepLabel(st.Name)})
	}
	var retry *tierup.Step
	if st := u.Step(u.CurrentStep); st != nil && st.NextRetryAt != nil && st.Status == tierup.StepRetrying && u.Status == tierup.UpgradeProcessing {
		retry = st
	}
	v.Title = "Upgrade progress"
	data := map[string]any{"U": u, "To": to, "Steps": rows, "Retry": retry, "Form": form, "Years": years(v.Account.Now),
		"Live": u.Moving()}
	if u.Status == tierup.UpgradePaymentFailed { // the retry form offers them
		data["Cards"] = without(s.savedCards(r.Context(), v), u.Payment.PaymentMethodID)
	}
	v.Data = data
	if r.URL.Query().Get("fragment") == "1" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := s.pages["progress"].ExecuteTemplate(w, "live", v); err != nil {
			s.log.ErrorContext(r.Context(), "rendering", "err", err)
		}
		return
	}
	s.render(w, r, status, "progress", v)
}

func (s *Server) retryPayment(w http.ResponseWriter, r *http.Request, v *view) {
	card, form := cardFrom(r)
	pm := s.payingCard(r, v, card, &form)
	if pm == nil {
		s.showProgress(w, r, v, form, http.StatusUnprocessableEntity)
		return
	}
	if _, err := s.app.RetryPayment(r.Context(), v.Account.ID, r.PathValue("id"), pm.ID); err != nil {
		status := httpx.StatusOf(err)
		if status == http.StatusInternalServerError {
			s.fail(w, r, err)
			return
		}
		form.Errors["card"] = err.Error()
		s.showProgress(w, r, v, form, status)
		return
	}
	http.Redirect(w, r, "/upgrades/"+r.PathValue("id"), http.StatusSeeOther)
}

// events is the progress page's live feed, signed in by the session.
func (s *Server) events(w http.ResponseWriter, r *http.Request, v *view) {
	ctx, id, p := r.Context(), r.PathValue("id"), principal(v)
	if _, err := s.app.Upgrade(ctx, p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	after, err := eventstream.LastEventID(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	eventstream.Upgrade(s.app, p, id, s.log).Serve(w, r, after)
}

type historyRow struct {
	U      *tierup.Upgrade
	Events []*tierup.UpgradeEvent
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, v *view) {
	ups, err := s.app.Upgrades(r.Context(), v.Account.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows := make([]historyRow, 0, len(ups))
	for _, u := range ups {
		evs, err := s.app.Events(r.Context(), principal(v), u.ID, 0, 500)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rows = append(rows, historyRow{U: u, Events: evs})
	}
	receipts, err := s.app.Receipts(r.Context(), v.Account.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Title = "Upgrade history"
	v.Data = historyPage{Upgrades: rows, Receipts: receipts}
	s.render(w, r, http.StatusOK, "history", v)
}

// challenge is the sandbox's stand-in for the bank's 3-D Secure page.
func (s *Server) challenge(w http.ResponseWriter, r *http.Request) {
	c, err := s.app.PaymentChallenge(r.Context(), r.PathValue("id"), r.URL.Query().Get("secret"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "challenge", &view{Title: "Confirm your payment", Data: map[string]any{"C": c, "Secret": r.URL.Query().Get("secret")}})
}

// answerChallenge records "Complete" or "Fail" and sends the customer back
// to where the payment was started.
func (s *Server) answerChallenge(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	ok := r.PostFormValue("outcome") == "complete"
	c, err := s.app.AnswerPaymentChallenge(r.Context(), r.PathValue("id"), r.PostFormValue("secret"), ok)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	back := c.ReturnURL
	if back == "" && c.UpgradeID != "" {
		back = "/upgrades/" + c.UpgradeID
	}
	if back == "" {
		back = "/plan"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
