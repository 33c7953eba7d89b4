package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/adminclient"
)

// remote are the flags of the commands that talk to a running server.
type remote struct {
	server  string
	timeout time.Duration
	json    bool
}

func remoteFlags(c *cobra.Command, r *remote) {
	f := c.PersistentFlags()
	f.StringVar(&r.server, "server", "http://127.0.0.1:8080", "the tierup server's URL (the admin token is --admin-token or TIERUP_ADMIN_TOKEN)")
	f.DurationVar(&r.timeout, "timeout", adminclient.DefaultTimeout, "longest one request to the server may take")
	f.BoolVar(&r.json, "json", false, "print the server's JSON instead of a table")
}

func (r *remote) client(o *options) (*adminclient.Client, error) {
	return adminclient.New(r.server, o.adminToken, r.timeout)
}

// The fields of an upgrade and a ticket the tables show; --json prints
// everything else.
type upgradeRow struct {
	ID          string `json:"id"`
	Account     string `json:"account"`
	FromPlan    string `json:"from_plan"`
	ToPlan      string `json:"to_plan"`
	Status      string `json:"status"`
	Paused      string `json:"paused_reason"`
	CurrentStep string `json:"current_step"`
	Progress    int    `json:"progress"`
	Payment     struct {
		Status  string       `json:"status"`
		Amount  tierup.Money `json:"amount"`
		Brand   string       `json:"brand"`
		Last4   string       `json:"last4"`
		Message string       `json:"message"`
	} `json:"payment"`
	Steps []struct {
		Name     string `json:"name"`
		Status   string `json:"status"`
		Attempts int    `json:"attempts"`
		Error    *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		NextRetryAt *time.Time `json:"next_retry_at"`
	} `json:"steps"`
	Nodes []struct {
		Name string `json:"name"`
	} `json:"nodes"`
	SupportTicket string     `json:"support_ticket"`
	CreatedAt     time.Time  `json:"created_at"`
	CompletedAt   *time.Time `json:"completed_at"`
}

type ticketRow struct {
	ID        string    `json:"id"`
	UpgradeID string    `json:"upgrade_id"`
	Account   string    `json:"account"`
	Step      string    `json:"step"`
	Error     string    `json:"error"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

func newUpgradesCommand(o *options) *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{
		Use:   "upgrades",
		Short: "List, show, retry and cancel upgrades on a running server (admin)",
		Long: `Operate upgrades through a running server's admin API: --server names it,
--admin-token (TIERUP_ADMIN_TOKEN) authenticates. Tables by default, the
server's JSON with --json.`,
	}
	remoteFlags(cmd, r)

	var status, account, cursor string
	var limit int
	var all bool
	list := &cobra.Command{
		Use:   "list [--status S] [--account A] [--limit N] [--all]",
		Short: "List upgrades, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			setIf(q, "status", status)
			setIf(q, "account", account)
			setIf(q, "cursor", cursor)
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			return r.list(cmd.Context(), o, "/v1/upgrades", q, all, printUpgrades)
		},
	}
	list.Flags().StringVar(&status, "status", "", "only upgrades in this status: "+oneOf(tierup.UpgradeStatuses()))
	list.Flags().StringVar(&account, "account", "", "only this account's upgrades (acct_…)")
	list.Flags().IntVar(&limit, "limit", 0, "upgrades per page (1–200; the server's default is 50)")
	list.Flags().StringVar(&cursor, "cursor", "", "start at this page (the next_cursor of the previous one)")
	list.Flags().BoolVar(&all, "all", false, "follow the cursors and list every page")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an upgrade with its steps",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.one(cmd.Context(), o, "GET", "/v1/upgrades/"+url.PathEscape(args[0]))
		},
	}
	retry := &cobra.Command{
		Use:   "retry ID",
		Short: "Resume an upgrade that needs support from its failed step",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.one(cmd.Context(), o, "POST", "/v1/upgrades/"+url.PathEscape(args[0])+"/retry")
		},
	}
	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel an upgrade: refund, restore the previous plan, notify",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.one(cmd.Context(), o, "POST", "/v1/upgrades/"+url.PathEscape(args[0])+"/cancel")
		},
	}
	cmd.AddCommand(list, show, retry, cancel)
	return cmd
}

func newTicketsCommand(o *options) *cobra.Command {
	r := &remote{}
	var status, account, upgrade string
	var limit int
	var all bool
	cmd := &cobra.Command{
		Use:   "tickets [--status open|resolved]",
		Short: "List the support tickets of upgrades handed to support (admin, on a running server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			setIf(q, "status", status)
			setIf(q, "account", account)
			setIf(q, "upgrade", upgrade)
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			return r.list(cmd.Context(), o, "/v1/support-tickets", q, all, printTickets)
		},
	}
	remoteFlags(cmd, r)
	cmd.Flags().StringVar(&status, "status", "", "only tickets in this status: "+oneOf(tierup.TicketStatuses()))
	cmd.Flags().StringVar(&account, "account", "", "only this account's tickets")
	cmd.Flags().StringVar(&upgrade, "upgrade", "", "only this upgrade's tickets")
	cmd.Flags().IntVar(&limit, "limit", 0, "tickets per page (1–200; the server's default is 50)")
	cmd.Flags().BoolVar(&all, "all", false, "follow the cursors and list every page")
	return cmd
}

func setIf(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}

// list prints a listing; without --all and with more pages, it says how
// to get the next one (on stderr, so that stdout stays the table).
func (r *remote) list(ctx context.Context, o *options, path string, q url.Values, all bool, table func(io.Writer, []json.RawMessage) error) error {
	c, err := r.client(o)
	if err != nil {
		return err
	}
	page, err := c.List(ctx, path, q, all)
	if err != nil {
		return err
	}
	if page.Data == nil {
		page.Data = []json.RawMessage{}
	}
	if r.json {
		return printJSON(o.stdout, page)
	}
	if err := table(o.stdout, page.Data); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(o.stderr, "more: add --cursor %s, or --all for every page\n", page.NextCursor)
	}
	return nil
}

// one runs a request answered with one upgrade and prints it.
func (r *remote) one(ctx context.Context, o *options, method, path string) error {
	c, err := r.client(o)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if method == "POST" {
		raw, err = c.Post(ctx, path)
	} else {
		raw, err = c.Get(ctx, path, nil)
	}
	if err != nil {
		return err
	}
	if r.json {
		return printJSON(o.stdout, raw)
	}
	var u upgradeRow
	if err := json.Unmarshal(raw, &u); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	printUpgrade(o.stdout, &u)
	return nil
}

func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(w)
	return err
}

func printUpgrades(w io.Writer, items []json.RawMessage) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tACCOUNT\tCHANGE\tSTATUS\tSTEP\tPROGRESS\tAMOUNT\tCREATED")
	for _, raw := range items {
		var u upgradeRow
		if err := json.Unmarshal(raw, &u); err != nil {
			return fmt.Errorf("unexpected upgrade in the listing: %w", err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s → %s\t%s\t%s\t%d%%\t%s\t%s\n", u.ID, u.Account, u.FromPlan, u.ToPlan, u.statusText(),
			dash(u.CurrentStep), u.Progress, u.amount(), u.CreatedAt.Format(time.RFC3339))
	}
	if len(items) == 0 {
		fmt.Fprintln(tw, "(none)")
	}
	return tw.Flush()
}

func (u *upgradeRow) statusText() string {
	if u.Paused != "" {
		return u.Status + " (" + u.Paused + ")"
	}
	return u.Status
}

func (u *upgradeRow) amount() string {
	if u.Payment.Amount.Currency == "" {
		return "-"
	}
	return u.Payment.Amount.String()
}

func printUpgrade(w io.Writer, u *upgradeRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "upgrade\t%s\n", u.ID)
	fmt.Fprintf(tw, "account\t%s\n", u.Account)
	fmt.Fprintf(tw, "change\t%s → %s\n", u.FromPlan, u.ToPlan)
	fmt.Fprintf(tw, "status\t%s, %d%%\n", u.statusText(), u.Progress)
	pay := fmt.Sprintf("%s %s", u.amount(), u.Payment.Status)
	if u.Payment.Last4 != "" {
		pay += fmt.Sprintf(" (%s …%s)", u.Payment.Brand, u.Payment.Last4)
	}
	if u.Payment.Message != "" {
		pay += ": " + u.Payment.Message
	}
	fmt.Fprintf(tw, "payment\t%s\n", pay)
	for _, n := range u.Nodes {
		fmt.Fprintf(tw, "node\t%s\n", n.Name)
	}
	if u.SupportTicket != "" {
		fmt.Fprintf(tw, "support ticket\t%s\n", u.SupportTicket)
	}
	fmt.Fprintf(tw, "created\t%s\n", u.CreatedAt.Format(time.RFC3339))
	if u.CompletedAt != nil {
		fmt.Fprintf(tw, "completed\t%s\n", u.CompletedAt.Format(time.RFC3339))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tATTEMPTS\tERROR")
	for _, s := range u.Steps {
		e := "-"
		if s.Error != nil {
			e = s.Error.Code + ": " + s.Error.Message
		}
		if s.NextRetryAt != nil {
			e += ", next try " + s.NextRetryAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", s.Name, s.Status, s.Attempts, e)
	}
	tw.Flush()
}

func printTickets(w io.Writer, items []json.RawMessage) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUPGRADE\tACCOUNT\tSTEP\tSTATUS\tCREATED\tERROR")
	for _, raw := range items {
		var t ticketRow
		if err := json.Unmarshal(raw, &t); err != nil {
			return fmt.Errorf("unexpected ticket in the listing: %w", err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.UpgradeID, t.Account, t.Step, t.Status,
			t.CreatedAt.Format(time.RFC3339), t.Error)
	}
	if len(items) == 0 {
		fmt.Fprintln(tw, "(none)")
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneOf lists a domain's statuses in words: "a, b or c".
func oneOf[S ~string](ss []S) string {
	words := make([]string, len(ss))
	for i, s := range ss {
		words[i] = string(s)
	}
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
