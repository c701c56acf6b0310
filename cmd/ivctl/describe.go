package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/instantvoice/instantvoice-go/internal/catalog"
)

// methods runs "ivctl methods": one line per method, its mandatory
// arguments first, the optional ones in brackets.
func (c *cli) methods() error {
	ms := catalog.Methods()
	if c.output == "json" && c.outputSet {
		return c.print(ms)
	}
	width := 0
	for _, m := range ms {
		width = max(width, len(m.Name))
	}
	for _, m := range ms {
		var line strings.Builder
		fmt.Fprintf(&line, "%-*s", width, m.Name)
		col := width
		for _, a := range m.Args {
			w := a.Name
			if !a.Required {
				w = "[" + w + "]"
			}
			if col+1+len(w) > 100 {
				line.WriteString("\n" + strings.Repeat(" ", width))
				col = width
			}
			line.WriteString(" " + w)
			col += 1 + len(w)
		}
		fmt.Fprintln(c.stdout, line.String())
	}
	return nil
}

// help runs "ivctl help METHOD".
func (c *cli) help(m catalog.MethodInfo) {
	w := c.stdout
	fmt.Fprintf(w, "%s: %s\n\nUsage: ivctl call %s", m.Name, m.Doc, m.Name)
	for _, a := range m.Args {
		if a.Required {
			fmt.Fprintf(w, " %s=...", a.Name)
		}
	}
	if len(m.Args) > 0 && !allRequired(m.Args) {
		fmt.Fprint(w, " [name=value ...]")
	}
	fmt.Fprint(w, "\n\nArguments (names as STOMP spells them, in any case; * mandatory):\n")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	describeArgs(tw, m.Args, "  ")
	tw.Flush()
	switch m.Result {
	case "":
		fmt.Fprint(w, "\nPrints nothing on success.\n")
	default:
		fmt.Fprintf(w, "\nPrints the result as JSON (%s), with the platform's field names.\n", m.Result)
	}
}

func allRequired(args []catalog.ArgInfo) bool {
	for _, a := range args {
		if !a.Required {
			return false
		}
	}
	return true
}

func describeArgs(w io.Writer, args []catalog.ArgInfo, indent string) {
	for _, a := range args {
		name := a.Name
		if a.Required {
			name += "*"
		}
		kind := a.Kind.String()
		switch {
		case a.Agent:
			kind = "agent"
		case a.Digits:
			kind = "digits"
		case a.Kind == catalog.ArgFlag:
			kind = "1 or 0"
		case a.Kind == catalog.ArgList:
			kind = "JSON list"
		}
		doc := a.Doc
		if a.XMLName == "" {
			doc += " (not sent over SOAP)"
		} else if a.XMLName != a.Name {
			doc += " (IVWS: " + a.XMLName + ")"
		}
		fmt.Fprintf(w, "%s%s\t%s\t%s\n", indent, name, kind, doc)
		if len(a.Items) > 0 {
			describeArgs(w, a.Items, indent+"  ")
		}
	}
}

// writeTable writes a result, given as JSON, as text: a list of scalars one
// per line, an object as name/value lines, a list of objects as a table
// with a column per field.
func writeTable(w io.Writer, b []byte) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	defer tw.Flush()
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '{':
		obj, err := members(b)
		if err != nil {
			return err
		}
		for _, kv := range obj {
			fmt.Fprintf(tw, "%s\t%s\n", kv.name, text(kv.value))
		}
	case len(b) > 0 && b[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		var cols []string
		rows := make([]map[string]json.RawMessage, len(items))
		for i, it := range items {
			it = bytes.TrimSpace(it)
			if len(it) == 0 || it[0] != '{' {
				fmt.Fprintln(tw, text(it))
				continue
			}
			obj, err := members(it)
			if err != nil {
				return err
			}
			rows[i] = map[string]json.RawMessage{}
			for _, kv := range obj {
				if _, ok := rows[i][kv.name]; !ok && !slices.Contains(cols, kv.name) {
					cols = append(cols, kv.name)
				}
				rows[i][kv.name] = kv.value
			}
		}
		if len(cols) == 0 {
			return nil
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
		for _, r := range rows {
			if r == nil {
				continue
			}
			cells := make([]string, len(cols))
			for j, col := range cols {
				cells[j] = text(r[col])
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	default:
		fmt.Fprintln(tw, text(b))
	}
	return nil
}

type member struct {
	name  string
	value json.RawMessage
}

// members returns the members of a JSON object in their order.
func members(b []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{name, v})
	}
	return out, nil
}

// text shows a JSON value as a cell: a string unquoted, null empty, the
// rest as compact JSON. A string with a control character (a tab or a
// newline that would break the table, a terminal escape from a hostile
// platform) is shown quoted, escapes and all.
func text(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return printable(s)
		}
	}
	if c := compact(v); c != nil {
		return string(c)
	}
	return string(v)
}

// printable returns s, or s quoted (escapes and all) when it holds a
// control character: text from the platform reaches no terminal raw.
func printable(s string) string {
	if strings.ContainsFunc(s, unicode.IsControl) {
		return strconv.Quote(s)
	}
	return s
}
