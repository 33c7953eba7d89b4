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
	var active *app.UpgradeView
	var nodes []tierup.Node // the dedicated nodes of the last completed upgrade
	for _, u := range ups {
		if u.Status.Active() && active == nil {
			if active, err = s.app.UpgradeView(ctx, principal(v), u.ID); err != nil {
				s.fail(w, r, err)
				return
			}
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
	meters[2].Limit = fmt.Sprintf("%d GB %s", a.Limits.StorageGB, storageClass(a.Entitlements.StorageClass))
	opts, err := s.app.UpgradeOptions(ctx, a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Title = "Plan"
	data := map[string]any{"Plan": plan, "Meters": meters, "Active": active, "Nodes": nodes, "Notifications": notes,
		"Suggested": s.app.SuggestedTier(opts)}
	if end := a.Subscription.CurrentPeriodEnd; end != nil {
		data["NoRenewal"] = tierup.NoRenewal(*end, s.location(a))
	}
	v.Data = data
	s.render(w, r, http.StatusOK, "plan", v)
}

// storageClass names a storage class for people: "SSD", "standard".
func storageClass(c string) string {
	if c == "ssd" {
		return "SSD"
	}
	return c
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
	Order    *app.OrderView // what it would cost and give now
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
	monthly := map[string]*tierup.Plan{} // the tier's 1-month plan, for savings
	for _, o := range opts {
		if o.Plan.IntervalMonths == 1 {
			monthly[o.Plan.Tier] = &o.Plan
		}
	}
	loc := s.location(v.Account)
	var cols []column
	seen := map[string]bool{}
	for _, o := range opts {
		p := o.Plan
		if seen[p.Tier] || p.Retired || (!p.Free() && p.IntervalMonths != months) {
			continue
		}
		seen[p.Tier] = true
		c := column{Tier: p.Tier, Plan: p, Current: o.Current, Allowed: o.Allowed, Monthly: p.MonthlyPrice()}
		if months > 1 {
			c.SavePct = p.SavingPercent(monthly[p.Tier])
		}
		if o.Allowed && o.Price != nil {
			order := s.app.Order(o.Price, loc)
			c.Order = &order
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

// location is the account's time zone.
func (s *Server) location(a *app.AccountView) *time.Location {
	loc, err := time.LoadLocation(a.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
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
	Brand                   string // the card's brand in words, as last typed
	Errors                  map[string]string
	TermsError              string
	Terms                   bool   // the terms were accepted in the form sent
	Saved                   string // the saved card chosen (its ID), or "new"; "" preselects the default
}

// payButton is the pay button with what it needs to say.
type payButton struct {
	Amount    tierup.Money
	Test      string // its data-test name
	Hint      string // what is missing while it is disabled
	Processor string // who processes the payment
}

// payHint is what the disabled button says is missing before the form is
// touched; app.js keeps it up to date as the form is filled.
const payHint = "To pay, enter your card and accept the terms."

func (s *Server) review(w http.ResponseWriter, r *http.Request, v *view) {
	s.showReview(w, r, v, r.PathValue("quote"), cardForm{}, http.StatusOK)
}

func (s *Server) showReview(w http.ResponseWriter, r *http.Request, v *view, quoteID string, form cardForm, status int) {
	ctx := r.Context()
	q, err := s.app.Quote(ctx, v.Account.ID, quoteID)
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
		if r.Method == http.MethodPost {
			// Keep what was typed (but the number and code) on the fresh quote.
			v.Notice = s.refreshedNotice(ctx, v, q.Quote, fresh.Quote)
			s.showReview(w, r, v, fresh.ID, form, http.StatusConflict)
			return
		}
		http.Redirect(w, r, "/review/"+fresh.ID+"?refreshed="+q.ID, http.StatusSeeOther)
		return
	}
	if old := r.URL.Query().Get("refreshed"); old != "" {
		if prev, err := s.app.Quote(ctx, v.Account.ID, old); err == nil {
			v.Notice = s.refreshedNotice(ctx, v, prev.Quote, q.Quote)
		}
	}
	to, _ := s.app.Catalog().Plan(q.ToPlan)
	version, _ := s.app.Terms()
	order := s.app.Order(q.Quote, s.location(v.Account))
	v.Title = "Review and pay"
	v.Data = map[string]any{"Order": order, "Preflight": q.Preflight, "Form": form, "TermsVersion": version,
		"Years": years(v.Account.Now), "Cards": s.savedCards(ctx, v), "Interruptions": s.interruptions(ctx, v.Account.ID, to),
		"Button": payButton{Amount: q.AmountDue, Test: "execute", Hint: payHint, Processor: s.app.Processor()}}
	s.render(w, r, status, "review", v)
}

// refreshedNotice says that an expired quote was replaced, and how its
// amount changed.
func (s *Server) refreshedNotice(_ context.Context, _ *view, prev, fresh *tierup.Quote) string {
	n := "Your previous quote expired after " + tierup.HumanDuration(int64(s.app.QuoteTTL()/time.Second)) +
		", so this is a fresh one. Please check the figures again before paying."
	if prev.AmountDue != fresh.AmountDue {
		n += fmt.Sprintf(" The amount due changed from %s to %s.", prev.AmountDue, fresh.AmountDue)
	}
	return n
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
	return card, cardForm{Name: card.Name, ExpMonth: f.Get("exp_month"), ExpYear: f.Get("exp_year"), Errors: map[string]string{},
		Brand: tierup.BrandName(tierup.CardBrand(card.Number))}
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
	quoteID := r.PathValue("quote")
	form.Terms = r.PostForm.Get("terms") == version
	if !form.Terms {
		form.TermsError = "Accept the terms of service to continue."
	}
	var pm *tierup.PaymentMethod
	if form.TermsError == "" {
		pm = s.payingCard(r, v, card, &form)
	}
	if pm == nil {
		s.showReview(w, r, v, quoteID, form, http.StatusUnprocessableEntity)
		return
	}
	u, err := s.app.CreateUpgrade(r.Context(), v.Account.ID, app.NewUpgrade{Quote: quoteID, PaymentMethod: pm.ID, AcceptTerms: version,
		IP: httpx.ClientIP(r.RemoteAddr), UserAgent: r.UserAgent(), IdempotencyKey: "web:" + quoteID, BodyHash: "web:" + quoteID})
	if err != nil {
		if errors.Is(err, tierup.ErrQuoteExpired) {
			s.showReview(w, r, v, quoteID, form, http.StatusConflict) // refreshed there, the form kept
			return
		}
		if errors.Is(err, tierup.ErrMigrationNotPossible) {
			// The Review page lists the reasons it checked again.
			v.Error = "Your workloads cannot move to dedicated nodes yet, so nothing was charged: see below."
			s.showReview(w, r, v, quoteID, form, http.StatusUnprocessableEntity)
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/upgrades/"+u.ID, http.StatusSeeOther)
}

func (s *Server) progress(w http.ResponseWriter, r *http.Request, v *view) {
	s.showProgress(w, r, v, cardForm{Errors: map[string]string{}}, true, http.StatusOK)
}

// showProgress shows the upgrade: the checkout until the payment went
// through, then the tracker. fresh is a form not sent yet, which a
// declined payment fills with what it can of the declined card.
func (s *Server) showProgress(w http.ResponseWriter, r *http.Request, v *view, form cardForm, fresh bool, status int) {
	ctx := r.Context()
	uv, err := s.app.UpgradeView(ctx, principal(v), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u := uv.Upgrade
	v.Title = "Upgrade: " + uv.Change
	data := map[string]any{"V": uv, "Order": uv.Order, "Form": form, "Years": years(v.Account.Now),
		"Button": payButton{Amount: u.Payment.Amount, Test: "retry-pay", Hint: payHint, Processor: uv.Payment}}
	if uv.Checkout {
		v.Title = "Review and pay"
	}
	if u.Status == tierup.UpgradePaymentFailed { // the retry form offers them
		data["Cards"] = without(s.savedCards(ctx, v), u.Payment.PaymentMethodID)
		if fresh {
			// Without the card the form is only emptier: the page still
			// works, but say why it lost the name and the expiry.
			if pm, err := s.app.PaymentMethod(ctx, v.Account.ID, u.Payment.PaymentMethodID); err != nil {
				s.log.WarnContext(ctx, "retry form: the declined card cannot be read", "upgrade", u.ID, "payment_method", u.Payment.PaymentMethodID, "err", err)
			} else {
				form.Name, form.ExpMonth, form.ExpYear = pm.Name, strconv.Itoa(pm.ExpMonth), strconv.Itoa(pm.ExpYear)
			}
		}
		if form.Errors["card"] == "" && form.Errors["number"] == "" {
			form.Errors["decline"] = u.Payment.Message + " " + uv.Money
		}
		data["Form"] = form
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
	progress := "/upgrades/" + r.PathValue("id")
	u, err := s.app.Upgrade(r.Context(), principal(v), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if u.Status != tierup.UpgradePaymentFailed {
		// A page left open, or a second click: the payment went through
		// or the upgrade ended meanwhile. The progress page says which.
		http.Redirect(w, r, progress, http.StatusSeeOther)
		return
	}
	card, form := cardFrom(r)
	pm := s.payingCard(r, v, card, &form)
	if pm == nil {
		s.showProgress(w, r, v, form, false, http.StatusUnprocessableEntity)
		return
	}
	if _, err := s.app.RetryPayment(r.Context(), v.Account.ID, r.PathValue("id"), pm.ID); err != nil {
		if errors.Is(err, tierup.ErrInvalidState) { // it moved on since the read above
			http.Redirect(w, r, progress, http.StatusSeeOther)
			return
		}
		status := httpx.StatusOf(err)
		if status == http.StatusInternalServerError {
			s.fail(w, r, err)
			return
		}
		form.Errors["card"] = err.Error()
		s.showProgress(w, r, v, form, false, status)
		return
	}
	http.Redirect(w, r, progress, http.StatusSeeOther)
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

func (s *Server) history(w http.ResponseWriter, r *http.Request, v *view) {
	entries, err := s.app.BillingHistory(r.Context(), v.Account.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Title = "Billing history"
	v.Data = entries
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
