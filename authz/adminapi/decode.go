package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/clearance-gw/clearance/authz/service"
)

// MaxBodyBytes caps a request body.
const MaxBodyBytes = 64 << 10

// decode reads r's JSON body into v strictly: application/json only, at
// most MaxBodyBytes, one object, no unknown fields, every field of the
// right type.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
			"send the body as application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return newProblem(http.StatusRequestEntityTooLarge, "too-large", "Body too large",
				fmt.Sprintf("a request body is at most %d bytes", MaxBodyBytes))
		}
		return newProblem(http.StatusBadRequest, "bad-request", "Unreadable body", "the body could not be read")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return newProblem(http.StatusBadRequest, "bad-request", "Malformed JSON", "the body must be one JSON object")
	}
	known := jsonFields(v)
	var fields []service.FieldError
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if !known[k] {
			fields = append(fields, service.FieldError{Field: k, Detail: "unknown field"})
		}
	}
	if len(fields) > 0 {
		return &service.ValidationError{Fields: fields}
	}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if err := json.Unmarshal(raw[k], fieldPtr(v, k)); err != nil {
			fields = append(fields, service.FieldError{Field: k, Detail: "must be " + kindOf(fieldPtr(v, k))})
		}
	}
	if len(fields) > 0 {
		return &service.ValidationError{Fields: fields}
	}
	return nil
}

// jsonFields are the JSON names of the fields of the struct v points to.
func jsonFields(v any) map[string]bool {
	t := reflect.TypeOf(v).Elem()
	out := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// fieldPtr points at the field of the struct v points to whose JSON name
// is name.
func fieldPtr(v any, name string) any {
	rv := reflect.ValueOf(v).Elem()
	t := rv.Type()
	for i := range t.NumField() {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); n == name {
			return rv.Field(i).Addr().Interface()
		}
	}
	return nil
}

func kindOf(ptr any) string {
	t := reflect.TypeOf(ptr).Elem()
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice:
		return "an array of " + jsonKind(t.Elem().Kind().String())[2:] + "s"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	}
	return "a " + t.Kind().String()
}

func jsonKind(k string) string {
	switch k {
	case "slice":
		return "an array"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	}
	return "a " + k
}
