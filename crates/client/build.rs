//! Generates the client from the committed OpenAPI 3.0 document on every build, so that a contract change the client cannot follow breaks the build.

use std::path::Path;

use serde_json::{json, Value};

/// Name of the one error body the generated client decodes (see [`unify_error_bodies`]).
const ERROR_BODY: &str = "ErrorBody";

fn main() {
    let spec_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/openapi-3.0.json"
    );
    println!("cargo:rerun-if-changed={spec_path}");
    println!("cargo:rerun-if-changed=build.rs");
    let text = std::fs::read_to_string(spec_path)
        .unwrap_or_else(|e| panic!("reading {spec_path}: {e} (run `make openapi`)"));
    let mut doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{spec_path} is not JSON: {e}"));
    unify_error_bodies(&mut doc);
    let spec = serde_json::from_value(doc)
        .unwrap_or_else(|e| panic!("{spec_path} is not an OpenAPI 3.0 document: {e}"));
    let mut generator = progenitor::Generator::default();
    let tokens = generator
        .generate_tokens(&spec)
        .unwrap_or_else(|e| panic!("progenitor cannot generate a client from {spec_path}: {e}"));
    let ast = syn::parse2(tokens).unwrap_or_else(|e| panic!("generated code does not parse: {e}"));
    let out_dir = std::env::var("OUT_DIR").unwrap_or_else(|e| panic!("OUT_DIR: {e}"));
    let out = Path::new(&out_dir).join("codegen.rs");
    std::fs::write(&out, prettyplease::unparse(&ast))
        .unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

/// progenitor 0.15 supports one error body type per operation (it asserts so), while the API
/// answers GitHub's `BasicError` and, for 422, `ValidationError` (the same fields plus
/// `errors`). Both are decoded here as one `ErrorBody` whose `errors` is optional. Any
/// other error schema is left alone: if an operation then has two, generation fails loudly.
fn unify_error_bodies(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    let Some(mut body) = schemas.get("ValidationError").cloned() else {
        return;
    };
    body["description"] = json!("GitHub's `basic-error` body, with `errors` on a 422.");
    if let Some(required) = body["required"].as_array_mut() {
        required.retain(|r| r != "errors");
    }
    schemas[ERROR_BODY] = body;
    let unified = [
        "#/components/schemas/BasicError",
        "#/components/schemas/ValidationError",
    ];
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    let operations = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    for op in operations {
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        for (status, response) in responses.iter_mut() {
            if status.starts_with('2') {
                continue;
            }
            let Some(reference) = response.pointer_mut("/content/application~1json/schema/$ref")
            else {
                continue;
            };
            if reference.as_str().is_some_and(|r| unified.contains(&r)) {
                *reference = json!(format!("#/components/schemas/{ERROR_BODY}"));
            }
        }
    }
}
