//! Down-converts the OpenAPI 3.1 document utoipa emits to OpenAPI 3.0.3, for tools (progenitor, older generators) that read 3.0 only.

use serde_json::{Map, Value};

/// The version the converted document declares.
pub const VERSION: &str = "3.0.3";

/// Keys JSON Schema 2020-12 / OpenAPI 3.1 know and OpenAPI 3.0's schema object does not;
/// 3.0 validators reject them, and nothing in them changes what a generated client does.
const SCHEMA_KEYS_3_1_ONLY: &[&str] = &[
    "propertyNames",
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
    "$schema",
    "$id",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$defs",
    "$comment",
    "unevaluatedProperties",
    "unevaluatedItems",
    "prefixItems",
    "dependentRequired",
    "dependentSchemas",
    "if",
    "then",
    "else",
];

/// The 3.0.3 rendering of a 3.1 document: same paths, operations and schemas, with 3.1-only
/// constructs rewritten (`type: [T, "null"]`, `oneOf` with a `null` branch, `$ref` with
/// siblings, `examples` arrays, `const`) or dropped. Pure: no I/O, the input is not changed.
pub fn down_convert(doc: &Value) -> Value {
    let mut out = doc.clone();
    let Some(root) = out.as_object_mut() else {
        return out;
    };
    root.insert("openapi".to_owned(), Value::String(VERSION.to_owned()));
    root.remove("jsonSchemaDialect");
    root.remove("webhooks");
    if let Some(info) = root.get_mut("info").and_then(Value::as_object_mut) {
        info.remove("summary");
        if let Some(license) = info.get_mut("license").and_then(Value::as_object_mut) {
            license.remove("identifier");
        }
    }
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
        components.remove("pathItems");
        if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
            for schema in schemas.values_mut() {
                convert_schema(schema);
            }
        }
        for kind in ["responses", "parameters", "requestBodies", "headers"] {
            if let Some(items) = components.get_mut(kind).and_then(Value::as_object_mut) {
                for item in items.values_mut() {
                    convert_non_schema(item);
                }
            }
        }
    }
    if let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            convert_non_schema(item);
        }
    }
    out
}

/// Walks everything that is not a schema (path items, operations, parameters, responses,
/// media types), converting each `schema` found and giving every response a description.
fn convert_non_schema(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(responses) = map.get_mut("responses").and_then(Value::as_object_mut) {
                for (status, response) in responses.iter_mut() {
                    ensure_description(response, status);
                }
            }
            if let Some(examples) = map.get("examples").filter(|e| e.is_array()).cloned() {
                // 3.1 lets a parameter/media type carry a schema-style `examples` array; 3.0
                // wants a map of Example objects there, so keep the first as `example`.
                map.remove("examples");
                if let Some(first) = examples.as_array().and_then(|a| a.first()) {
                    map.entry("example").or_insert_with(|| first.clone());
                }
            }
            for (key, child) in map.iter_mut() {
                if key == "schema" {
                    convert_schema(child);
                } else {
                    convert_non_schema(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(convert_non_schema),
        _ => {}
    }
}

/// A response without a description is invalid in 3.0 (and refused by generators).
fn ensure_description(response: &mut Value, status: &str) {
    if let Some(map) = response.as_object_mut() {
        if map.contains_key("$ref") {
            return;
        }
        if !map.get("description").is_some_and(Value::is_string) {
            map.insert(
                "description".to_owned(),
                Value::String(format!("Status {status}")),
            );
        }
    }
}

/// Rewrites one schema (and, recursively, its subschemas) to 3.0's dialect.
fn convert_schema(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    for key in SCHEMA_KEYS_3_1_ONLY {
        map.remove(*key);
    }
    if let Some(examples) = map.remove("examples") {
        if let Some(first) = examples.as_array().and_then(|a| a.first()) {
            map.entry("example").or_insert_with(|| first.clone());
        }
    }
    if let Some(value) = map.remove("const") {
        map.entry("enum")
            .or_insert_with(|| Value::Array(vec![value]));
    }
    for (key, flag) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(bound) = map.get(key).filter(|b| b.is_number()).cloned() {
            map.insert(flag.to_owned(), bound);
            map.insert(key.to_owned(), Value::Bool(true));
        }
    }
    nullable_type_array(map);
    nullable_one_of(map, "oneOf");
    nullable_one_of(map, "anyOf");
    ref_with_siblings(map);
    for key in ["properties", "patternProperties"] {
        if let Some(props) = map.get_mut(key).and_then(Value::as_object_mut) {
            props.values_mut().for_each(convert_schema);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = map.get_mut(key) {
            convert_schema(child);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(children) = map.get_mut(key).and_then(Value::as_array_mut) {
            children.iter_mut().for_each(convert_schema);
        }
    }
}

/// `type: [T, "null"]` → `type: T, nullable: true`; `null` also leaves `enum`.
fn nullable_type_array(map: &mut Map<String, Value>) {
    let Some(types) = map.get("type").and_then(Value::as_array).cloned() else {
        return;
    };
    let null = Value::String("null".to_owned());
    let rest: Vec<Value> = types.iter().filter(|t| **t != null).cloned().collect();
    if rest.len() < types.len() {
        map.insert("nullable".to_owned(), Value::Bool(true));
        if let Some(values) = map.get_mut("enum").and_then(Value::as_array_mut) {
            values.retain(|v| !v.is_null());
        }
    }
    match rest.as_slice() {
        [] => {
            map.remove("type");
        }
        [one] => {
            map.insert("type".to_owned(), one.clone());
        }
        // Several non-null types: 3.0 has no union of types, so say it with `anyOf`.
        many => {
            map.remove("type");
            let branches = many
                .iter()
                .map(|t| Value::Object(Map::from_iter([("type".to_owned(), t.clone())])))
                .collect();
            map.insert("anyOf".to_owned(), Value::Array(branches));
        }
    }
}

/// `oneOf: [X, {type: null}]` → X's content (a `$ref` wrapped in `allOf`) + `nullable: true`.
fn nullable_one_of(map: &mut Map<String, Value>, key: &str) {
    let Some(branches) = map.get(key).and_then(Value::as_array).cloned() else {
        return;
    };
    let is_null = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
    if !branches.iter().any(is_null) {
        return;
    }
    let rest: Vec<Value> = branches.into_iter().filter(|b| !is_null(b)).collect();
    map.insert("nullable".to_owned(), Value::Bool(true));
    if let [only] = rest.as_slice() {
        map.remove(key);
        let Some(only) = only.as_object() else {
            return;
        };
        for (k, v) in only {
            if k == "description" {
                map.entry(k.clone()).or_insert_with(|| v.clone());
            } else {
                map.insert(k.clone(), v.clone());
            }
        }
    } else {
        map.insert(key.to_owned(), Value::Array(rest));
    }
}

/// In 3.0 every sibling of `$ref` is ignored: wrap the reference in `allOf` so that
/// `description`, `nullable` and the rest still apply.
fn ref_with_siblings(map: &mut Map<String, Value>) {
    if map.len() < 2 {
        return;
    }
    if let Some(reference) = map.remove("$ref") {
        let target = Map::from_iter([("$ref".to_owned(), reference)]);
        map.insert(
            "allOf".to_owned(),
            Value::Array(vec![Value::Object(target)]),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::down_convert;

    #[test]
    fn nullable_types_and_null_branches_become_nullable() {
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1", "license": {"name": "MIT", "identifier": "MIT"}},
            "paths": {"/x": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}}},
            "components": {"schemas": {"A": {"type": "object", "properties": {
                "a": {"type": ["string", "null"]},
                "b": {"oneOf": [{"$ref": "#/components/schemas/B", "description": "why"}, {"type": "null"}]},
                "c": {"$ref": "#/components/schemas/B", "description": "see B"},
                "d": {"type": "object", "additionalProperties": {"type": "string"}, "propertyNames": {"type": "string"}},
                "e": {"type": "string", "examples": ["x", "y"], "const": "x"},
            }}, "B": {"type": "string"}}},
        });
        let out = down_convert(&doc);
        assert_eq!(out["openapi"], "3.0.3");
        assert!(out["info"]["license"].get("identifier").is_none());
        let props = &out["components"]["schemas"]["A"]["properties"];
        assert_eq!(props["a"], json!({"type": "string", "nullable": true}));
        assert_eq!(
            props["b"],
            json!({"allOf": [{"$ref": "#/components/schemas/B"}], "description": "why", "nullable": true})
        );
        assert_eq!(
            props["c"],
            json!({"allOf": [{"$ref": "#/components/schemas/B"}], "description": "see B"})
        );
        assert!(props["d"].get("propertyNames").is_none());
        assert_eq!(
            props["e"],
            json!({"type": "string", "example": "x", "enum": ["x"]})
        );
        assert_eq!(
            out["paths"]["/x"]["get"]["responses"]["200"]["description"],
            "Status 200"
        );
    }
}
