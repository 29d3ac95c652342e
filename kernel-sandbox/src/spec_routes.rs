//! Spec-driven routes: every operation of every spec in `openapi/` (bundled, normalised,
//! by `cargo xtask regen` into `specs.generated.json`) is served. A request is validated
//! against its operation — path, query and header parameters and the JSON body — with
//! kernel-spec's validator (written apart from the typed clients' typify validation), and
//! refused with `400 {"message": ...}` naming the place and the rule, never the value.
//! A valid request goes to a handler a test registered, else to the built-in behaviour of
//! the six kernel services (`services.rs`), else to the spec's first 2xx example.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use kernel_spec::schema::{coerce_parameter_values, validate};
use kernel_spec::{Operation, ParameterLocation, ServiceMeta};
use serde::Deserialize;
use serde_json::{Value, json};

/// The bundle `cargo xtask regen` writes.
const BUNDLE: &str = include_str!("specs.generated.json");

#[derive(Deserialize)]
struct BundledSpec {
    file: String,
    meta: ServiceMeta,
    doc: Value,
}

/// One spec as the sandbox serves it.
pub(crate) struct ServedSpec {
    pub(crate) file: String,
    pub(crate) meta: ServiceMeta,
    pub(crate) doc: Value,
    pub(crate) operations: Vec<Operation>,
}

static SPECS: LazyLock<Vec<ServedSpec>> = LazyLock::new(|| {
    // The bundle is generated and checked by `cargo xtask regen --check`; a broken bundle is
    // a build defect, reported once and served as "no spec routes".
    let bundled: Vec<BundledSpec> = match serde_json::from_str(BUNDLE) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("specs.generated.json is unreadable ({e}); run `cargo xtask regen`");
            Vec::new()
        }
    };
    bundled
        .into_iter()
        .map(|b| ServedSpec {
            operations: kernel_spec::operations(&b.doc),
            file: b.file,
            meta: b.meta,
            doc: b.doc,
        })
        .collect()
});

/// Every served spec.
pub(crate) fn specs() -> &'static [ServedSpec] {
    &SPECS
}

/// A validated request, as a registered handler sees it.
#[derive(Debug, Clone)]
pub struct SpecRequest {
    /// The service prefix.
    pub prefix: String,
    /// The operationId.
    pub operation_id: String,
    /// Path parameters (decoded).
    pub path: BTreeMap<String, String>,
    /// Query parameters (decoded, in order).
    pub query: Vec<(String, String)>,
    /// Request headers.
    pub headers: HeaderMap,
    /// The JSON body, when the operation has one.
    pub body: Option<Value>,
}

/// A handler a test registers for one operation: status and JSON body.
pub type SpecHandler = Arc<dyn Fn(&SpecRequest) -> (u16, Value) + Send + Sync>;

/// The operation `method` + wire path addresses, with its path parameters.
pub(crate) fn find(
    method: &Method,
    raw_path: &str,
) -> Option<(
    &'static ServedSpec,
    &'static Operation,
    BTreeMap<String, String>,
)> {
    let trimmed = raw_path.strip_prefix('/')?;
    let (prefix, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let spec = specs().iter().find(|s| s.meta.prefix == prefix)?;
    let wire: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    for op in &spec.operations {
        if op.method != method.as_str() {
            continue;
        }
        let template: Vec<&str> = op.path.split('/').filter(|s| !s.is_empty()).collect();
        if template.len() != wire.len() {
            continue;
        }
        let mut params = BTreeMap::new();
        let matched = template.iter().zip(&wire).all(|(t, w)| {
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) => {
                    let decoded = percent_decode(w);
                    params.insert(name.to_owned(), decoded);
                    true
                }
                None => t == w,
            }
        });
        if matched {
            return Some((spec, op, params));
        }
    }
    None
}

/// A path segment as text: byte-wise percent-decoding (a `%` not followed by two hex
/// digits is kept as is), then UTF-8 with replacement characters.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Validates the request against `op`; `Err` is the 400 message.
pub(crate) fn validate_request(
    spec: &ServedSpec,
    op: &Operation,
    path: BTreeMap<String, String>,
    raw_query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<SpecRequest, String> {
    let query: Vec<(String, String)> = raw_query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    for p in &op.parameters {
        let (values, where_): (Vec<String>, &str) = match p.location {
            ParameterLocation::Path => (path.get(&p.name).cloned().into_iter().collect(), "path"),
            ParameterLocation::Query => (
                query
                    .iter()
                    .filter(|(k, _)| k == &p.name)
                    .map(|(_, v)| v.clone())
                    .collect(),
                "query",
            ),
            ParameterLocation::Header => (
                headers
                    .get_all(p.name.to_ascii_lowercase())
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .collect(),
                "header",
            ),
        };
        if values.is_empty() {
            if p.required {
                return Err(format!(
                    "{} ({where_} parameter): required but missing",
                    p.name
                ));
            }
            continue;
        }
        let v = coerce_parameter_values(&spec.doc, &p.schema, &values);
        validate(&spec.doc, &p.schema, &v)
            .map_err(|e| format!("{} ({where_} parameter): {}", p.name, e.why))?;
    }
    let body_value = match &op.body {
        None => None,
        Some(b) if b.media.starts_with("application/json") => {
            if body.is_empty() {
                if b.required {
                    return Err("body: required but missing".into());
                }
                return Ok(SpecRequest {
                    prefix: spec.meta.prefix.clone(),
                    operation_id: op.id.clone(),
                    path,
                    query,
                    headers: headers.clone(),
                    body: None,
                });
            }
            let v: Value =
                serde_json::from_slice(body).map_err(|_| "body: not valid JSON".to_owned())?;
            validate(&spec.doc, &b.schema, &v).map_err(|e| e.to_string())?;
            Some(v)
        }
        Some(_) => None,
    };
    Ok(SpecRequest {
        prefix: spec.meta.prefix.clone(),
        operation_id: op.id.clone(),
        path,
        query,
        headers: headers.clone(),
        body: body_value,
    })
}

/// The operation's first documented 2xx answer, from its example.
pub(crate) fn example_response(op: &Operation) -> (StatusCode, Value) {
    match op.success() {
        Some(r) => (
            r.status
                .parse::<u16>()
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK),
            r.example.clone().unwrap_or(Value::Null),
        ),
        None => (
            StatusCode::NOT_IMPLEMENTED,
            json!({"message": "the spec documents no success response"}),
        ),
    }
}

/// Checks a typed CLI call's inputs against the operation's spec before anything is built:
/// each given parameter `(name, raw value)` and the JSON body. `Err` names the place and
/// the rule, never the value.
pub fn check_operation_input(
    prefix: &str,
    operation_id: &str,
    params: &[(&str, String)],
    body: Option<&Value>,
) -> Result<(), String> {
    let Some(spec) = specs().iter().find(|s| s.meta.prefix == prefix) else {
        return Ok(());
    };
    let Some(op) = spec.operations.iter().find(|o| o.id == operation_id) else {
        return Ok(());
    };
    for (name, raw) in params {
        if let Some(p) = op.parameters.iter().find(|p| p.name == *name) {
            let v = coerce_parameter_values(&spec.doc, &p.schema, std::slice::from_ref(raw));
            validate(&spec.doc, &p.schema, &v).map_err(|e| format!("{name}: {}", e.why))?;
        }
    }
    if let (Some(b), Some(v)) = (&op.body, body) {
        validate(&spec.doc, &b.schema, v).map_err(|e| e.to_string())?;
    }
    Ok(())
}
