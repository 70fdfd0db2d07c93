//! The API described as OpenAPI 3.0, served at `/api/openapi.json`.

use serde_json::{Value, json};

fn param(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn search_params() -> Vec<Value> {
    vec![
        param(
            "q",
            json!({"type": "string", "maxLength": glas_core::query::MAX_QUERY_CHARS}),
            "Query: words (all must match, any case form), OR, NOT or -word, \"phrase\", \"phrase\"~3, prefix*, \
             (groups), fields title: text: author: source: url:, filters sentiment: topic: place: type: lang:, \
             date:[2026-11-01 TO 2026-11-07]. Empty: every mention.",
        ),
        param("since", json!({"type": "string", "example": "7d"}), "Only the last span: 7d, 24h, 90m."),
        param("from", json!({"type": "string", "format": "date"}), "From this day (district time), inclusive."),
        param("to", json!({"type": "string", "format": "date"}), "Up to this day (district time), inclusive."),
        param(
            "sort",
            json!({"type": "string", "enum": ["relevance", "date"], "default": "relevance"}),
            "Order of hits.",
        ),
        param("page", json!({"type": "integer", "minimum": 1, "default": 1}), "Page number."),
        param(
            "size",
            json!({"type": "integer", "minimum": 1, "maximum": glas_store::search::MAX_PAGE, "default": 20}),
            "Hits per page.",
        ),
        param(
            "collapse",
            json!({"type": "boolean", "default": true}),
            "One hit per reprint cluster, with the count of the others (more_in_cluster).",
        ),
        param("facets", json!({"type": "boolean", "default": false}), "Also count hits per facet value."),
        param(
            "exact_total",
            json!({"type": "boolean", "default": false}),
            "Count every match. Otherwise a search sorted by date without facets reads the newest hours first, \
             stops once the page is full, and may estimate the total (total_estimated).",
        ),
    ]
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

pub fn document() -> Value {
    let facet_list = json!({"type": "array", "items": {"$ref": "#/components/schemas/FacetCount"}});
    let mut export_params = search_params();
    export_params
        .retain(|p| !matches!(p["name"].as_str(), Some("page" | "size" | "collapse" | "facets" | "exact_total")));
    export_params.push(param(
        "format",
        json!({"type": "string", "enum": ["csv", "xlsx", "jsonl"], "default": "jsonl"}),
        "CSV (UTF-8 with BOM, `;`-separated, Russian headers: opens in Excel), XLSX (one sheet, the same \
columns; at most 100,000 mentions, else 413) or JSON Lines.",
    ));
    let district = param(
        "district",
        json!({"type": "string", "example": "sosed,kursk"}),
        "Only these districts (their pipeline files' names, separated by commas) among those the account covers \
(`glas user districts`); none: all of them and this one.",
    );
    let mut region_params = search_params();
    region_params.push(district.clone());
    let mut region_export_params = export_params.clone();
    region_export_params.push(district);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "glas API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Search of mentions gathered and enriched by glas, saved searches and exports. Errors are JSON with an English and a Russian reason. Every call needs an API token (`glas token create NAME --role analyst`) as `Authorization: Bearer TOKEN`, or a workspace session; without one it answers 401, outside the token's role 403. Search, facets, export and saved searches need the role analyst; mentions and this document, viewer.",
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/search": {"get": {
                "summary": "A page of hits",
                "parameters": search_params(),
                "responses": {
                    "200": {"description": "Hits", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchResults"}}}},
                    "400": error_response("Bad parameters or query syntax (with position)"),
                    "503": error_response("The request took longer than the time limit"),
                },
            }},
            "/api/region/search": {"get": {
                "summary": "A page of hits across the region's districts (a workspace started with --district) that the account covers: each hit names its district; facets summed; districts that failed listed in `failed`",
                "parameters": region_params,
                "responses": {
                    "200": {"description": "Hits of every district, ranked together", "content": {"application/json": {"schema": {"type": "object", "properties": {"total": {"type": "integer"}, "total_estimated": {"type": "boolean"}, "per_district": {"type": "array"}, "hits": {"type": "array"}, "facets": {"$ref": "#/components/schemas/Facets"}, "failed": {"type": "array"}}}}}},
                    "400": error_response("Bad parameters or query syntax (with position)"),
                    "403": error_response("The account covers no other district"),
                    "404": error_response("This workspace serves one district"),
                    "503": error_response("The request took longer than the time limit"),
                },
            }},
            "/api/region/export": {"get": {
                "summary": "Every mention matching the query in the districts the account covers, district after district, streamed; CSV and XLSX get the district's name as their first column, JSON Lines a `district` field",
                "parameters": region_export_params,
                "responses": {
                    "200": {"description": "The export", "content": {"text/csv": {}, "application/x-ndjson": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}},
                    "400": error_response("Bad parameters or query syntax"),
                    "403": error_response("The account covers no other district"),
                    "413": error_response("An XLSX export of more than 100,000 mentions"),
                    "503": error_response("A district cannot be read: the export would be incomplete"),
                },
            }},
            "/api/facets": {"get": {
                "summary": "Hits per source, topic, place, sentiment, type and day",
                "parameters": search_params(),
                "responses": {
                    "200": {"description": "Counts", "content": {"application/json": {"schema": {"type": "object", "properties": {"total": {"type": "integer"}, "facets": {"$ref": "#/components/schemas/Facets"}}}}}},
                    "400": error_response("Bad parameters or query syntax"),
                },
            }},
            "/api/mentions/{id}": {"get": {
                "summary": "One mention with its enrichment",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The mention", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Mention"}}}},
                    "404": error_response("No such mention"),
                },
            }},
            "/api/export": {"get": {
                "summary": "Every mention matching the query (no paging), streamed",
                "parameters": export_params,
                "responses": {
                    "200": {"description": "The export", "content": {"text/csv": {}, "application/x-ndjson": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}},
                    "400": error_response("Bad parameters or query syntax"),
                    "413": error_response("An XLSX export of more than 100,000 mentions"),
                },
            }},
            "/api/searches": {
                "get": {"summary": "Saved searches (pipeline file and API)", "responses": {"200": {"description": "The list", "content": {"application/json": {"schema": {"type": "object", "properties": {"searches": {"type": "array", "items": {"$ref": "#/components/schemas/SavedSearch"}}}}}}}}},
                "post": {
                    "summary": "Create a saved search: its new matches are emailed after every crawl round",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewSavedSearch"}}}},
                    "responses": {
                        "201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SavedSearch"}}}},
                        "400": error_response("Invalid name, query or address"),
                        "409": error_response("The name exists, or belongs to the pipeline file"),
                    },
                },
            },
            "/api/searches/{name}": {
                "put": {
                    "summary": "Change the name, query or recipients of a saved search created through the API; its digests go on from where they got",
                    "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewSavedSearch"}}}},
                    "responses": {
                        "200": {"description": "Changed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SavedSearch"}}}},
                        "400": error_response("Invalid name, query or address"),
                        "404": error_response("No such saved search"),
                        "409": error_response("The new name exists, or the search belongs to the pipeline file"),
                    },
                },
                "delete": {
                    "summary": "Delete a saved search created through the API",
                    "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {
                        "204": {"description": "Deleted"},
                        "404": error_response("No such saved search"),
                        "409": error_response("Defined in the pipeline file"),
                    },
                },
            },
            "/api/incidents": {
                "get": {
                    "summary": "Incidents, newest first (a service account: its own only)",
                    "parameters": [
                        param("status", json!({"type": "string", "enum": ["new", "assigned", "in_work", "answered", "resolved", "postponed", "rejected"]}), "Only this status"),
                        param("service", json!({"type": "string"}), "Only this service"),
                        param("overdue", json!({"type": "string", "enum": ["1"]}), "Only incidents past a deadline"),
                    ],
                    "responses": {
                        "200": {"description": "The incidents", "content": {"application/json": {"schema": {"type": "object", "properties": {
                            "count": {"type": "integer"}, "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/Incident"}}}}}}},
                        "400": error_response("Unknown status"),
                        "404": error_response("The pipeline has no incidents"),
                    },
                },
                "post": {
                    "summary": "An incident made from mentions (analyst), routed and emailed like any other",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["mentions"], "properties": {
                        "mentions": {"type": "array", "items": {"type": "string"}, "maxItems": 500},
                        "topic": {"type": "string", "description": "default: the first mention's first topic"},
                        "place": {"type": "string", "description": "default: the first mention's first settlement"},
                        "severity": {"type": "string", "enum": ["low", "medium", "high"], "default": "medium"}}}}}},
                    "responses": {
                        "201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Incident"}}}},
                        "400": error_response("No or unknown mentions, a mention already in an incident, an unknown topic or severity"),
                        "403": error_response("Not an analyst"),
                    },
                },
            },
            "/api/incidents/{id}": {
                "get": {
                    "summary": "One incident with its mentions (`evidence`) and its history",
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                    "responses": {
                        "200": {"description": "The incident", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Incident"}}}},
                        "403": error_response("Another service's incident"),
                        "404": error_response("No such incident"),
                    },
                },
                "post": {
                    "summary": "A change: a status (with comment, reason, date to come back), another service, a comment, a merge into another incident, or mentions split off into a new one",
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["action"], "properties": {
                        "action": {"type": "string", "enum": ["status", "assign", "comment", "merge", "split"]},
                        "status": {"type": "string"}, "comment": {"type": "string"}, "reason": {"type": "string"},
                        "until": {"type": "string", "format": "date"}, "service": {"type": "string"},
                        "into": {"type": "integer"}, "mentions": {"type": "array", "items": {"type": "string"}}}}}}},
                    "responses": {
                        "200": {"description": "The incident after the change", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Incident"}}}},
                        "400": error_response("A change the rules refuse, said in Russian in reason_ru"),
                        "403": error_response("A viewer, or another service's incident"),
                        "404": error_response("No such incident"),
                    },
                },
            },
        },
        "components": {
          "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "an API token from `glas token create`"}},
          "schemas": {
            "Incident": {"type": "object", "properties": {
                "id": {"type": "integer"}, "title": {"type": "string"}, "topic": {"type": "string", "nullable": true},
                "place": {"type": "string", "nullable": true}, "severity": {"type": "string"}, "status": {"type": "string"},
                "service": {"type": "string"}, "episode": {"type": "string", "nullable": true},
                "created_at": {"type": "string", "format": "date-time"}, "first_complaint_at": {"type": "string", "format": "date-time"},
                "last_complaint_at": {"type": "string", "format": "date-time"},
                "reaction_due": {"type": "string", "format": "date-time"}, "resolution_due": {"type": "string", "format": "date-time"},
                "reacted_at": {"type": "string", "format": "date-time", "nullable": true},
                "public_answer_url": {"type": "string", "nullable": true}, "public_answer_at": {"type": "string", "nullable": true},
                "resolved_at": {"type": "string", "nullable": true}, "postponed_until": {"type": "string", "format": "date", "nullable": true},
                "reason": {"type": "string", "nullable": true}, "repeats": {"type": "integer"},
                "merged_into": {"type": "integer", "nullable": true}, "mentions": {"type": "integer"},
                "overdue": {"type": "string", "enum": ["reaction", "resolution"], "nullable": true},
                "evidence": {"type": "array", "description": "GET /api/incidents/{id} only"},
                "history": {"type": "array", "description": "GET /api/incidents/{id} only"}}},
            "Error": {"type": "object", "required": ["error", "reason", "reason_ru"], "properties": {
                "error": {"type": "string", "enum": ["bad_request", "query_syntax", "query_too_long", "not_found", "exists", "in_pipeline", "timeout", "internal", "unauthorized", "forbidden", "incidents_off"]},
                "reason": {"type": "string"},
                "reason_ru": {"type": "string"},
                "position": {"type": "integer", "description": "1-based character position of a query syntax error"},
            }},
            "Hit": {"type": "object", "properties": {
                "id": {"type": "string"}, "source": {"type": "string"}, "url": {"type": "string"},
                "published_at": {"type": "string", "format": "date-time"}, "author": {"type": "string"}, "title": {"type": "string"},
                "title_highlights": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
                "sentiment": {"type": "string", "enum": ["negative", "neutral", "positive"]},
                "topics": {"type": "array", "items": {"type": "string"}}, "places": {"type": "array", "items": {"type": "string"}},
                "mention_type": {"type": "string", "enum": ["complaint", "question", "gratitude", "news", "other"]},
                "cluster": {"type": "string"},
                "more_in_cluster": {"type": "integer", "description": "Other mentions of the reprint cluster in the result set"},
                "snippet": {"type": "string"},
                "highlights": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}, "description": "Byte ranges of matched words in snippet"},
                "score": {"type": "number"},
            }},
            "SearchResults": {"type": "object", "properties": {
                "total": {"type": "integer"}, "offset": {"type": "integer"}, "limit": {"type": "integer"},
                "total_estimated": {"type": "boolean", "description": "Present and true when total is an estimate (two significant digits): sorted by date, the newest hours filled the page and older ones were not read"},
                "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                "facets": {"$ref": "#/components/schemas/Facets"},
            }},
            "FacetCount": {"type": "object", "properties": {"value": {"type": "string"}, "count": {"type": "integer"}}},
            "Facets": {"type": "object", "properties": {
                "source": facet_list, "topic": facet_list, "place": facet_list,
                "sentiment": facet_list, "type": facet_list, "day": facet_list,
                "day_tone": {"type": "array", "items": {"type": "object", "properties": {
                    "day": {"type": "string", "format": "date"}, "negative": {"type": "integer"},
                    "positive": {"type": "integer"}, "complaint": {"type": "integer"}}}},
            }},
            "Mention": {"type": "object", "properties": {
                "id": {"type": "string"}, "source": {"type": "string"}, "source_kind": {"type": "string"}, "url": {"type": "string"},
                "published_at": {"type": "string", "format": "date-time"}, "author": {"type": "string"}, "title": {"type": "string"},
                "text": {"type": "string"}, "lang": {"type": "string"}, "sentiment": {"type": "string"}, "sentiment_score": {"type": "number"},
                "topics": {"type": "array", "items": {"type": "string"}}, "places": {"type": "array", "items": {"type": "string"}},
                "entities": {"type": "array", "items": {"type": "string"}}, "mention_type": {"type": "string"}, "cluster": {"type": "string"},
            }},
            "NewSavedSearch": {"type": "object", "required": ["name", "query"], "properties": {
                "name": {"type": "string", "maxLength": glas_store::saved::MAX_NAME_CHARS},
                "query": {"type": "string"},
                "to": {"type": "array", "items": {"type": "string", "format": "email"}, "description": "Recipients; empty: the [alerts] recipients"},
            }},
            "SavedSearch": {"type": "object", "properties": {
                "name": {"type": "string"}, "query": {"type": "string"},
                "to": {"type": "array", "items": {"type": "string"}},
                "origin": {"type": "string", "enum": ["pipeline", "api"]},
                "created_at": {"type": "string", "format": "date-time"},
            }},
        }},
    })
}
