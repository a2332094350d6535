// Command validate checks Grafana dashboard JSON files strictly against the schema of the Grafana
// foundation SDK (Go): UnmarshalJSONStrict refuses unknown fields, wrong types and missing required
// fields, Validate() checks the schema's constraints. The SDK falls back to an untyped bag for panel
// types and datasources it does not know, which would let anything through, so this program also
// refuses panel types without a registered schema, and checks PostgreSQL queries (which the SDK has
// no schema for) against the fields Grafana's PostgreSQL datasource reads.
//
// Usage: validate FILE... — prints one JSON line per file and exits 1 if any file fails.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

const postgresType = "grafana-postgresql-datasource"

// postgresQuery is the target shape of Grafana's PostgreSQL datasource (grafana-sql's SQLQuery, in
// code mode): anything else in a target is a typo Grafana would silently ignore.
type postgresQuery struct {
	RefId      string                   `json:"refId"`
	Hide       *bool                    `json:"hide,omitempty"`
	Datasource *dashboard.DataSourceRef `json:"datasource,omitempty"`
	RawSql     string                   `json:"rawSql"`
	Format     string                   `json:"format"`
	EditorMode string                   `json:"editorMode,omitempty"`
	RawQuery   *bool                    `json:"rawQuery,omitempty"`
}

func (q *postgresQuery) ImplementsDataqueryVariant() {}
func (q *postgresQuery) DataqueryType() string       { return postgresType }
func (q *postgresQuery) Equals(other variants.Dataquery) bool {
	o, ok := other.(*postgresQuery)
	return ok && o.RefId == q.RefId && o.RawSql == q.RawSql && o.Format == q.Format
}
func (q *postgresQuery) Validate() error {
	var errs []error
	if q.RefId == "" {
		errs = append(errs, errors.New("refId: required"))
	}
	if q.RawSql == "" {
		errs = append(errs, errors.New("rawSql: required"))
	}
	if q.Format != "table" && q.Format != "time_series" {
		errs = append(errs, fmt.Errorf("format: %q is neither table nor time_series", q.Format))
	}
	if q.EditorMode != "" && q.EditorMode != "code" && q.EditorMode != "builder" {
		errs = append(errs, fmt.Errorf("editorMode: %q is neither code nor builder", q.EditorMode))
	}
	return errors.Join(errs...)
}

var postgresFields = map[string]bool{"refId": true, "hide": true, "datasource": true, "rawSql": true, "format": true, "editorMode": true, "rawQuery": true}

func decodePostgres(raw []byte, strict bool) (variants.Dataquery, error) {
	if strict {
		// encoding/json matches field names case-insensitively: compare the keys exactly first.
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(raw, &keys); err != nil {
			return nil, err
		}
		var unexpected []error
		for k := range keys {
			if !postgresFields[k] {
				unexpected = append(unexpected, fmt.Errorf("unexpected field '%s'", k))
			}
		}
		if len(unexpected) > 0 {
			return nil, errors.Join(unexpected...)
		}
	}
	q := &postgresQuery{}
	if err := json.Unmarshal(raw, q); err != nil {
		return nil, err
	}
	return q, nil
}

type result struct {
	File   string   `json:"file"`
	Ok     bool     `json:"ok"`
	Panels int      `json:"panels"`
	Errors []string `json:"errors,omitempty"`
}

func check(file string) result {
	r := result{File: file}
	raw, err := os.ReadFile(file)
	if err != nil {
		r.Errors = append(r.Errors, err.Error())
		return r
	}
	var d dashboard.Dashboard
	r.Errors = append(r.Errors, lines("unmarshal", d.UnmarshalJSONStrict(raw))...)
	r.Errors = append(r.Errors, lines("validate", d.Validate())...)
	if d.Uid == nil || *d.Uid == "" {
		r.Errors = append(r.Errors, "uid: required for provisioning")
	}
	// The SDK's PanelOrRowPanel drops a panel whose strict decode returned its empty error list, so
	// panels are decoded (and validated) here one by one from the raw JSON.
	var top struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		r.Errors = append(r.Errors, "panels: "+err.Error())
	}
	for i, rp := range top.Panels {
		var kind struct {
			Type   string            `json:"type"`
			Panels []json.RawMessage `json:"panels"`
		}
		_ = json.Unmarshal(rp, &kind)
		if kind.Type != "row" {
			r.Errors = append(r.Errors, checkPanel(fmt.Sprintf("panels[%d]", i), rp)...)
			r.Panels++
			continue
		}
		for j, pr := range kind.Panels {
			r.Errors = append(r.Errors, checkPanel(fmt.Sprintf("panels[%d].panels[%d]", i, j), pr)...)
			r.Panels++
		}
	}
	r.Ok = len(r.Errors) == 0
	return r
}

// lines splits the SDK's error list one problem a line. The SDK returns its (possibly empty) list
// typed as cog.BuildErrors, so a nil check alone would call a clean dashboard invalid.
func lines(stage string, err error) []string {
	var list cog.BuildErrors
	if errors.As(err, &list) {
		out := make([]string, 0, len(list))
		for _, e := range list {
			out = append(out, stage+": "+e.Error())
		}
		return out
	}
	if err != nil {
		return []string{stage + ": " + err.Error()}
	}
	return nil
}

func checkPanel(where string, raw json.RawMessage) []string {
	var errs []string
	var p dashboard.Panel
	errs = append(errs, lines(where+" unmarshal", p.UnmarshalJSONStrict(raw))...)
	errs = append(errs, lines(where+" validate", p.Validate())...)
	if p.Title != nil {
		where = fmt.Sprintf("%s (%s)", where, *p.Title)
	}
	if _, known := cog.ConfigForPanelcfgVariant(p.Type); !known {
		errs = append(errs, fmt.Sprintf("%s: panel type %q has no schema", where, p.Type))
	}
	if p.Datasource == nil || p.Datasource.Uid == nil || *p.Datasource.Uid == "" || p.Datasource.Type == nil {
		errs = append(errs, where+": no datasource type and uid")
		return errs
	}
	// Targets are decoded here too: the SDK drops a target whose strict decode returned its empty
	// error list, and keeps one of an unknown datasource type as an unchecked bag.
	var withTargets struct {
		Targets []json.RawMessage `json:"targets"`
	}
	_ = json.Unmarshal(raw, &withTargets)
	if len(withTargets.Targets) == 0 {
		errs = append(errs, where+": no query")
	}
	for j, t := range withTargets.Targets {
		at := fmt.Sprintf("%s: targets[%d]", where, j)
		var ref struct {
			Datasource *dashboard.DataSourceRef `json:"datasource"`
		}
		_ = json.Unmarshal(t, &ref)
		if ref.Datasource == nil || ref.Datasource.Uid == nil || *ref.Datasource.Uid != *p.Datasource.Uid {
			errs = append(errs, at+": datasource differs from the panel's")
		}
		switch *p.Datasource.Type {
		case "prometheus":
			var q prometheus.Dataquery
			errs = append(errs, lines(at, q.UnmarshalJSONStrict(t))...)
			errs = append(errs, lines(at, q.Validate())...)
			if q.Expr == "" {
				errs = append(errs, at+": empty expr")
			}
		case postgresType:
			q, err := decodePostgres(t, true)
			errs = append(errs, lines(at, err)...)
			if err == nil {
				errs = append(errs, lines(at, q.Validate())...)
			}
		default:
			errs = append(errs, fmt.Sprintf("%s: no schema for datasource type %q", at, *p.Datasource.Type))
		}
	}
	return errs
}

func main() {
	plugins.RegisterDefaultPlugins()
	cog.NewRuntime().RegisterDataqueryVariant(variants.DataqueryConfig{
		Identifier:                 postgresType,
		DataqueryUnmarshaler:       func(raw []byte) (variants.Dataquery, error) { return decodePostgres(raw, false) },
		StrictDataqueryUnmarshaler: func(raw []byte) (variants.Dataquery, error) { return decodePostgres(raw, true) },
	})
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: validate FILE...")
		os.Exit(2)
	}
	failed := 0
	out := json.NewEncoder(os.Stdout)
	for _, f := range os.Args[1:] {
		r := check(f)
		if !r.Ok {
			failed++
		}
		_ = out.Encode(r)
	}
	if failed > 0 {
		os.Exit(1)
	}
}
