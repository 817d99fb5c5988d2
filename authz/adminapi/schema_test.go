package adminapi

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// validate checks v (decoded JSON) against an OpenAPI 3.1 schema of the
// subset openapi.json uses: $ref, type (one or a list), properties,
// required, additionalProperties, items, enum, minLength, minimum,
// maximum, format date-time and date. It returns every mismatch.
func validate(doc map[string]any, schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		s, ok := doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
		if !ok {
			return []string{at + ": unknown $ref " + ref}
		}
		return validate(doc, s, v, at)
	}
	var types []string
	switch t := schema["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	}
	if len(types) > 0 && !slices.Contains(types, jsonType(v)) &&
		!(jsonType(v) == "integer" && slices.Contains(types, "number")) {
		return []string{fmt.Sprintf("%s: %s, want %v", at, jsonType(v), types)}
	}
	var errs []string
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		errs = append(errs, fmt.Sprintf("%s: %v not in %v", at, v, enum))
	}
	switch x := v.(type) {
	case string:
		if n, ok := schema["minLength"].(float64); ok && len(x) < int(n) {
			errs = append(errs, fmt.Sprintf("%s: shorter than %v", at, n))
		}
		switch schema["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339, x); err != nil {
				errs = append(errs, at+": not a date-time")
			}
		case "date":
			if _, err := time.Parse(time.DateOnly, x); err != nil {
				errs = append(errs, at+": not a date")
			}
		}
	case float64:
		if n, ok := schema["minimum"].(float64); ok && x < n {
			errs = append(errs, fmt.Sprintf("%s: below %v", at, n))
		}
		if n, ok := schema["maximum"].(float64); ok && x > n {
			errs = append(errs, fmt.Sprintf("%s: above %v", at, n))
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range x {
				errs = append(errs, validate(doc, items, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asStrings(schema["required"]) {
			if _, ok := x[r]; !ok {
				errs = append(errs, at+"."+r+": required")
			}
		}
		for k, e := range x {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if schema["additionalProperties"] == false {
					errs = append(errs, at+"."+k+": not in the schema")
				}
				continue
			}
			errs = append(errs, validate(doc, ps, e, at+"."+k)...)
		}
	}
	return errs
}

func asStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
