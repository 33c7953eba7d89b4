package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/pflag"
	"github.com/tierup/tierup"
)

// receiptFlags adds the seller, tax and address flags of receipts, with
// the defaults d (tierup.DefaultReceiptConfig).
func receiptFlags(fs *pflag.FlagSet, o *options, d tierup.ReceiptConfig) {
	r := &o.flow.Receipts
	fs.StringVar(&r.Seller.Name, "seller-name", d.Seller.Name, "seller's name on receipts and credit notes")
	fs.StringVar(&r.Seller.Address, "seller-address", d.Seller.Address, `seller's postal address on receipts; "\n" separates lines`)
	fs.StringVar(&r.Seller.TaxID, "seller-tax-id", d.Seller.TaxID, "seller's tax ID (VAT number) on receipts")
	fs.StringVar(&o.taxRate, "tax-rate", d.TaxRate.String(), `tax rate included in the prices, a percentage with up to two decimals ("20", "7.5%"); receipts show the part of each total it makes up`)
	fs.StringVar(&o.baseURL, "base-url", d.BaseURL, "the dashboard's public address, for links in emails (default http:// and --addr)")
}

// receipts checks the receipt flags and returns what they configure.
func (o *options) receipts() (tierup.ReceiptConfig, error) {
	// Commands other than serve have none of these flags: they issue no
	// receipts and keep the defaults.
	r := o.flow.Receipts
	if o.taxRate != "" {
		rate, err := tierup.ParseTaxRate(o.taxRate)
		if err != nil {
			return r, fmt.Errorf("--tax-rate: %w", err)
		}
		r.TaxRate = rate
	}
	r.Seller.Address = strings.ReplaceAll(r.Seller.Address, `\n`, "\n")
	base := o.baseURL
	if base == "" && o.addr != "" {
		base = "http://" + o.addr
	}
	if base == "" {
		return r, nil
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return r, fmt.Errorf("--base-url %q: want an absolute http:// or https:// address without a query, e.g. https://billing.example.com", base)
	}
	r.BaseURL = strings.TrimRight(base, "/")
	return r, nil
}
