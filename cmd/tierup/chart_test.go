package main

import (
	"encoding/json"
	"io"
	"os"
	"testing"

	"github.com/spf13/pflag"
)

// The Helm chart passes its config values as serve's environment twins, and
// applyEnv ignores a variable that names no flag: so the chart's schema
// lists every flag of serve with its type, and refuses any other name at
// install time instead of letting a misspelt setting be dropped.
func TestChartSchemaListsServeFlags(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/helm/tierup/values.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Config struct {
				AdditionalProperties *bool `json:"additionalProperties"`
				Properties           map[string]struct {
					Type string          `json:"type"`
					Ref  string          `json:"$ref"`
					Enum []string        `json:"enum"`
					Not  json.RawMessage `json:"not"`
				} `json:"properties"`
			} `json:"config"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	config := schema.Properties.Config
	if config.AdditionalProperties == nil || *config.AdditionalProperties {
		t.Error("the schema's config allows names it does not list")
	}

	root := newRootCommand(io.Discard, io.Discard)
	serve, _, err := root.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]*pflag.Flag{}
	for _, fs := range []*pflag.FlagSet{serve.LocalFlags(), serve.InheritedFlags()} {
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" {
				flags[f.Name] = f
			}
		})
	}
	// What each flag type takes from the values.
	types := map[string]string{"string": "string", "bool": "boolean", "int": "integer", "duration": "#/definitions/duration"}
	for name, f := range flags {
		p, ok := config.Properties[name]
		switch {
		case !ok:
			t.Errorf("--%s is not in the chart's values.schema.json config: add it (or refuse it with not: {} when the chart sets it)", name)
		case p.Not != nil || p.Enum != nil:
			// Set by the chart, or one of a few words.
		case types[f.Value.Type()] == "":
			t.Errorf("--%s is a %s: say in this test what the schema takes for it", name, f.Value.Type())
		case p.Type != types[f.Value.Type()] && p.Ref != types[f.Value.Type()]:
			t.Errorf("--%s is a %s, the schema takes type %q, $ref %q", name, f.Value.Type(), p.Type, p.Ref)
		}
	}
	for name, p := range config.Properties {
		// A refused name need not be a flag (yet): TIERUP_SECRET_KEY has none.
		if _, ok := flags[name]; !ok && p.Not == nil {
			t.Errorf("the chart's schema takes config.%s, which is no flag of serve", name)
		}
	}
}
