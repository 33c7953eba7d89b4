package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/workflow"
)

// TestReceiptFlags reads the receipt flags and their environment twins
// into the workflow's receipt configuration, and refuses bad values with
// a message naming the flag.
func TestReceiptFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want tierup.ReceiptConfig
		err  string
	}{
		{"defaults", nil, nil, tierup.ReceiptConfig{Seller: tierup.Seller{Name: "tierup"}, BaseURL: "http://127.0.0.1:8080"}, ""},
		{"flags", []string{"--seller-name", "Zoë GmbH", "--seller-address", `Straße 1\nBerlin`, "--seller-tax-id", "DE1", "--tax-rate", "19%",
			"--base-url", "https://billing.example.com/"},
			nil, tierup.ReceiptConfig{Seller: tierup.Seller{Name: "Zoë GmbH", Address: "Straße 1\nBerlin", TaxID: "DE1"}, TaxRate: 1900,
				BaseURL: "https://billing.example.com"}, ""},
		{"environment twins", []string{"--addr", "0.0.0.0:9000"}, map[string]string{"TIERUP_SELLER_NAME": "Acme", "TIERUP_TAX_RATE": "7.5"},
			tierup.ReceiptConfig{Seller: tierup.Seller{Name: "Acme"}, TaxRate: 750, BaseURL: "http://0.0.0.0:9000"}, ""},
		{"a rate above 100%", []string{"--tax-rate", "120"}, nil, tierup.ReceiptConfig{}, "--tax-rate: tax rate \"120\": want a percentage"},
		{"a rate in words", nil, map[string]string{"TIERUP_TAX_RATE": "twenty"}, tierup.ReceiptConfig{}, "--tax-rate"},
		{"a base URL that is not http", []string{"--base-url", "ftp://example.com"}, nil, tierup.ReceiptConfig{}, "--base-url \"ftp://example.com\": want an absolute"},
		{"a relative base URL", []string{"--base-url", "billing.example.com"}, nil, tierup.ReceiptConfig{}, "--base-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			o := &options{}
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "")
			receiptFlags(fs, o, workflow.DefaultConfig().Receipts)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := applyEnv(fs); err != nil {
				t.Fatal(err)
			}
			got, err := o.receipts()
			switch {
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want %q", err, tt.err)
			case tt.err == "" && (err != nil || got != tt.want):
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
