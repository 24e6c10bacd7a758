package api

import (
	"maps"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// schemaTypes are the Go types behind the named schemas of the OpenAPI
// document; their JSON Schemas are derived from the types, so they stay true.
var schemaTypes = map[string]any{
	"Error":             errorBody{},
	"FeedInfo":          FeedInfo{},
	"FeedList":          []FeedInfo{},
	"PushReport":        PushReport{},
	"QueryRequest":      QueryRequest{},
	"Me":                Me{},
	"Usage":             Usage{},
	"OpenFeed":          OpenFeed{},
	"OpenFeedList":      []OpenFeed{},
	"Ready":             Ready{},
	"QualityBuckets":    QualityBuckets{},
	"AccessRequestBody": AccessRequestBody{},
	"DecisionBody":      DecisionBody{},
	"AccessRequest":     AccessRequest{},
	"AccessRequestList": AccessRequestList{},
}

// OpenAPI returns the OpenAPI 3 document of every route, rendered from the
// same route table that registers them.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{
			"summary":     rt.summary,
			"operationId": operationID(rt),
			"tags":        []string{rt.tag},
		}
		if rt.description != "" {
			op["description"] = rt.description
		}
		if rt.auth == authToken {
			op["security"] = []map[string][]string{{"bearer": {}}}
		} else {
			op["security"] = []map[string][]string{}
		}
		var params []map[string]any
		for _, p := range rt.params {
			sch := map[string]any{"type": "string"}
			if len(p.enum) > 0 {
				sch["enum"] = p.enum
			}
			params = append(params, map[string]any{"name": p.name, "in": p.in, "required": p.required, "description": p.desc, "schema": sch})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		switch rt.body {
		case "":
		case "Records":
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json":     map[string]any{"schema": map[string]any{"type": "array", "items": map[string]any{"type": "object"}}},
				"application/x-ndjson": map[string]any{"schema": map[string]any{"type": "string", "description": "one JSON object per line"}},
			}}
		default:
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": ref(rt.body)},
			}}
		}
		responses := map[string]any{}
		content := map[string]any{}
		for _, t := range rt.ok.types {
			c := map[string]any{}
			if rt.ok.schema != "" && t == "application/json" {
				c["schema"] = ref(rt.ok.schema)
			}
			content[t] = c
		}
		responses[strconv.Itoa(rt.ok.status)] = map[string]any{"description": rt.ok.desc, "content": content}
		for status, why := range rt.errors {
			schema := ref("Error")
			if status == http.StatusUnprocessableEntity {
				// A push answers 422 with its report when every record was
				// rejected, and with an Error for a reused Idempotency-Key.
				schema = map[string]any{"oneOf": []any{ref("PushReport"), ref("Error")}}
			}
			if status == http.StatusServiceUnavailable && rt.path == "/readyz" {
				schema = ref("Ready")
			}
			responses[strconv.Itoa(status)] = map[string]any{"description": why,
				"content": map[string]any{"application/json": map[string]any{"schema": schema}}}
		}
		op["responses"] = responses
		if paths[rt.path] == nil {
			paths[rt.path] = map[string]any{}
		}
		paths[rt.path][strings.ToLower(rt.method)] = op
	}
	schemas := map[string]any{}
	for name, v := range schemaTypes {
		schemas[name] = jsonSchema(reflect.TypeOf(v))
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Digital Highway API",
			"version":     "1",
			"description": "The city's real-time data exchange: feed catalogue, push ingestion, read-only SQL, open data and live tails. Errors are {\"error\", \"hint\"}.",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer",
				"description": "a department's token, made with 'highway token create --department NAME'"}},
			"schemas": schemas,
		},
	}
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func operationID(rt route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	for _, part := range strings.FieldsFunc(rt.path, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '.' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

var timeType = reflect.TypeOf(time.Time{})

// jsonSchema derives the JSON Schema of a Go type as encoding/json writes it.
func jsonSchema(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Pointer {
		return jsonSchema(t.Elem())
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": jsonSchema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": jsonSchema(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				// An embedded struct's fields are the outer object's, as
				// encoding/json writes them (api.FeedInfo embeds wire.Feed).
				inner := jsonSchema(f.Type)
				maps.Copy(props, inner["properties"].(map[string]any))
				if req, ok := inner["required"].([]string); ok {
					required = append(required, req...)
				}
				continue
			}
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = jsonSchema(f.Type)
			if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
				required = append(required, name)
			}
		}
		sort.Strings(required)
		out := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			out["required"] = required
		}
		return out
	}
	return map[string]any{}
}

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request, _ *principal) {
	writeJSON(w, http.StatusOK, s.OpenAPI())
}
