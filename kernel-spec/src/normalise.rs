//! Turns real-world documents — in particular API Gateway exports — into what the generator
//! (progenitor 0.15 / typify 0.8) accepts, and refuses, with a readable [`SpecError`], the
//! constructs that cannot be generated correctly. Every rewrite is recorded as a
//! [`Rewrite`] so that `cargo xtask regen` can tell the spec's owners what to fix upstream.
//!
//! Rewritten (see [`CONSTRUCTS`] for the full list, which the README repeats):
//! missing `operationId`s, `x-amazon-apigateway-*` extensions, CORS `options` and `trace`
//! operations, greedy `{proxy+}` path variables, undeclared or optional path parameters,
//! path-level parameters, `$ref`'d request bodies and responses, several request media
//! types, request `encoding`, `default` responses, JSON responses without a schema, enum
//! values whose JSON type contradicts `type`, `oauth2` schemes without `flows`, a missing
//! `info.version`, and inline bounded numbers, which move to `components.schemas` so that
//! they get checked types ([`crate::checked`]).
//!
//! Refused: OpenAPI 3.1 and Swagger 2.0, path-item `$ref`s, external or dangling `$ref`s,
//! cookie parameters, deepObject / space- / pipe-delimited query parameters, unsupported
//! request media types (multipart, XML, …), operations without responses, `5XX` ranges and
//! status 599 (reserved by the SDK), success (or error) responses of different shapes within
//! one operation, duplicate operationIds, schema names that collide once converted to Rust,
//! named `oneOf`/`anyOf` schemas that are also `nullable`, and `x-kernel-sensitive` or a
//! kernel format anywhere but on a component string schema.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::error::SpecError;

/// One change normalisation made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// `operationId (METHOD /path)` when the change concerns one operation.
    pub operation: Option<String>,
    /// What was changed.
    pub what: String,
}

impl std::fmt::Display for Rewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.operation {
            Some(op) => write!(f, "operation {op}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

/// Every construct the pipeline rewrites or refuses, as `(construct, action)`.
pub const CONSTRUCTS: &[(&str, &str)] = &[
    (
        "missing operationId",
        "derived from method and path (`get_items_by_id`)",
    ),
    ("x-amazon-apigateway-* extensions (any depth)", "removed"),
    (
        "x-amazon-apigateway-any-method",
        "removed (ANY is not a method a client can call)",
    ),
    ("CORS `options` and `trace` operations", "removed"),
    (
        "greedy path variable `{proxy+}`",
        "renamed `{proxy}`; its parameter too",
    ),
    (
        "path variable without a parameter",
        "string parameter added",
    ),
    ("path parameter without `required: true`", "made required"),
    ("path-level parameters", "copied into each operation"),
    (
        "`$ref` to components.requestBodies / responses / parameters",
        "inlined",
    ),
    (
        "request body with several media types",
        "application/json kept",
    ),
    ("request body `encoding`", "removed"),
    (
        "`default` response",
        "removed (declare explicit status codes)",
    ),
    ("JSON response without a schema", "schema `{}` (any JSON)"),
    (
        "enum values whose type contradicts `type: string`",
        "quoted",
    ),
    (
        "oauth2 security scheme without `flows`",
        "`flows: {}` added",
    ),
    ("missing info.version", "`0.0.0`"),
    (
        "YAML integer keys (e.g. inside extensions)",
        "read as strings",
    ),
    ("OpenAPI 3.1, Swagger 2.0", "refused"),
    ("path-item `$ref`", "refused"),
    ("external or dangling `$ref`", "refused"),
    (
        "cookie parameters; deepObject, spaceDelimited, pipeDelimited query styles",
        "refused",
    ),
    (
        "request media types other than json, octet-stream, form-urlencoded, text/plain",
        "refused",
    ),
    ("operation without responses", "refused"),
    (
        "`5XX` range or status 599 (599 is reserved by the SDK)",
        "refused",
    ),
    (
        "2xx (or 4xx/5xx) responses of different shapes in one operation",
        "refused",
    ),
    ("duplicate operationId (after derivation)", "refused"),
    (
        "schema names that collide in Rust (`card-token`, `CardToken`)",
        "refused",
    ),
    ("named oneOf/anyOf schema that is also nullable", "refused"),
    (
        "`format: date-time / date / time / uuid`",
        "read as plain strings (no chrono/uuid in the clients)",
    ),
    (
        "`x-kernel-sensitive` or a kernel format outside components.schemas, or on a non-string or nullable schema",
        "refused (it would be ignored)",
    ),
    (
        "`format: aba-routing-number` on a component string schema",
        "a client type that checks the ABA checksum when built (the sandbox checks it too)",
    ),
    (
        "integer / number bounds typify's type does not enforce (`maximum`, `multipleOf`, exclusive bounds, a `minimum` other than 0 or 1, any bound on a number)",
        "a checked client type (refuses out-of-range values when built); inline ones are moved to components.schemas under a derived name (`NewWidgetSize`)",
    ),
    (
        "bounds no value satisfies (`minimum` above `maximum`, no integer between them); `multipleOf` not above 0",
        "refused",
    ),
    (
        "bounded numbers that are nullable, enums or have a `default`; bounds inside allOf / oneOf / anyOf",
        "typify's type (bounds it cannot express are checked by the service only; regen notes each one)",
    ),
    (
        "two parameters of one operation with the same Rust name (`Limit`, `limit`)",
        "refused",
    ),
    (
        "anything else progenitor or typify cannot generate (their panics included)",
        "refused; the component schema, or the operation and its part (parameter, request body, responses) at fault is named",
    ),
];

/// HTTP methods an OpenAPI path item may hold.
pub const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

struct Ctx<'a> {
    spec: &'a str,
    rewrites: Vec<Rewrite>,
}

impl Ctx<'_> {
    fn note(&mut self, operation: Option<&str>, what: impl Into<String>) {
        self.rewrites.push(Rewrite {
            operation: operation.map(str::to_owned),
            what: what.into(),
        });
    }
    fn err(&self, construct: impl Into<String>, why: impl Into<String>) -> SpecError {
        SpecError::new(self.spec, construct, why)
    }
}

/// Normalises `doc` in place; returns what changed.
pub fn normalise(spec: &str, doc: &mut Value) -> Result<Vec<Rewrite>, SpecError> {
    let mut cx = Ctx {
        spec,
        rewrites: Vec::new(),
    };
    check_version(&cx, doc)?;
    let stripped = strip_apigateway(doc);
    if stripped > 0 {
        cx.note(
            None,
            format!("removed {stripped} x-amazon-apigateway-* extension(s)"),
        );
    }
    fix_info(&mut cx, doc)?;
    fix_security_schemes(&mut cx, doc);
    check_refs(&cx, doc, doc)?;
    fix_enums(&mut cx, doc);
    fix_formats(&mut cx, doc);
    check_checked_markers(&cx, doc)?;
    if let Some((at, why)) = crate::checked::find_impossible_bounds(doc) {
        return Err(cx.err(format!("schema at {at}"), why));
    }
    check_schema_names(&cx, doc)?;
    fix_paths(&mut cx, doc)?;
    for note in crate::checked::hoist_bounded_numbers(doc) {
        cx.note(None, note);
    }
    Ok(cx.rewrites)
}

fn check_version(cx: &Ctx<'_>, doc: &Value) -> Result<(), SpecError> {
    if !doc.is_object() {
        return Err(cx.err("document", "the top level is not a mapping"));
    }
    if doc.get("swagger").is_some() {
        return Err(cx.err(
            "swagger",
            "Swagger 2.0 is not supported; export OpenAPI 3.0 (API Gateway: `--export-type oas30`)",
        ));
    }
    match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0.") => Ok(()),
        Some(v) => Err(cx.err(
            "openapi version",
            format!("{v} is not supported; the generator reads OpenAPI 3.0.x only"),
        )),
        None => Err(cx.err("openapi version", "missing `openapi: 3.0.x`")),
    }
}

fn strip_apigateway(v: &mut Value) -> usize {
    match v {
        Value::Object(map) => {
            // `x-amazon-apigateway-authtype` marks the SigV4 scheme the policy requires:
            // removed like the others, but not worth reporting.
            let reported = map
                .keys()
                .filter(|k| {
                    k.starts_with("x-amazon-apigateway-") && *k != "x-amazon-apigateway-authtype"
                })
                .count();
            map.retain(|k, _| !k.starts_with("x-amazon-apigateway-"));
            let mut n = reported;
            for child in map.values_mut() {
                n += strip_apigateway(child);
            }
            n
        }
        Value::Array(items) => items.iter_mut().map(strip_apigateway).sum(),
        _ => 0,
    }
}

fn fix_info(cx: &mut Ctx<'_>, doc: &mut Value) -> Result<(), SpecError> {
    let info = doc
        .get_mut("info")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| cx.err("info", "missing"))?;
    if !info.contains_key("title") {
        return Err(cx.err("info.title", "missing"));
    }
    if !matches!(info.get("version"), Some(Value::String(_))) {
        let v = match info.get("version") {
            Some(Value::Number(n)) => n.to_string(),
            _ => "0.0.0".to_owned(),
        };
        info.insert("version".into(), Value::String(v.clone()));
        cx.note(None, format!("info.version set to `{v}`"));
    }
    Ok(())
}

fn fix_security_schemes(cx: &mut Ctx<'_>, doc: &mut Value) {
    let Some(schemes) = doc
        .pointer_mut("/components/securitySchemes")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (name, scheme) in schemes.iter_mut() {
        if scheme.get("type").and_then(Value::as_str) == Some("oauth2")
            && scheme.get("flows").is_none()
            && let Some(m) = scheme.as_object_mut()
        {
            m.insert("flows".into(), json!({}));
            cx.note(
                None,
                format!("security scheme `{name}`: oauth2 without flows, `flows: {{}}` added"),
            );
        }
    }
}

/// Every `$ref` must be local and resolve.
fn check_refs(cx: &Ctx<'_>, root: &Value, v: &Value) -> Result<(), SpecError> {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let Some(pointer) = r.strip_prefix('#') else {
                    return Err(cx.err(
                        format!("$ref {r}"),
                        "external references are not supported; bundle the document first",
                    ));
                };
                if root.pointer(pointer).is_none() {
                    return Err(cx.err(format!("$ref {r}"), "points at nothing in this document"));
                }
            }
            for child in map.values() {
                check_refs(cx, root, child)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|i| check_refs(cx, root, i)),
        _ => Ok(()),
    }
}

/// `type: string` with `enum: [0, 1]` (YAML reads unquoted numbers) → quoted values.
fn fix_enums(cx: &mut Ctx<'_>, v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("string")
                && let Some(Value::Array(values)) = map.get_mut("enum")
            {
                let mut changed = false;
                for e in values.iter_mut() {
                    let quoted = match e {
                        Value::Number(n) => Some(n.to_string()),
                        Value::Bool(b) => Some(b.to_string()),
                        _ => None,
                    };
                    if let Some(q) = quoted {
                        *e = Value::String(q);
                        changed = true;
                    }
                }
                if changed {
                    cx.note(None, "enum values quoted to match `type: string`");
                }
            }
            for child in map.values_mut() {
                fix_enums(cx, child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| fix_enums(cx, i)),
        _ => {}
    }
}

/// Formats typify maps to types of crates the generated clients do not depend on
/// (chrono, uuid): kept as strings, validated by the service.
const EXTERNAL_FORMATS: &[&str] = &["date-time", "date", "time", "uuid"];

fn fix_formats(cx: &mut Ctx<'_>, v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("string")
                && let Some(f) = map.get("format").and_then(Value::as_str)
                && EXTERNAL_FORMATS.contains(&f)
            {
                let f = f.to_owned();
                map.remove("format");
                cx.note(
                    None,
                    format!("`format: {f}` read as a plain string (the service validates it)"),
                );
            }
            for child in map.values_mut() {
                fix_formats(cx, child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| fix_formats(cx, i)),
        _ => {}
    }
}

/// `x-kernel-sensitive` and the kernel formats (`format: aba-routing-number`) are
/// honoured on component string schemas only: those become the generator's own checked
/// newtypes, which replace typify's by name. Anywhere else the marker would be silently
/// ignored (a card number logged, a checksum not checked), so it is refused.
fn check_checked_markers(cx: &Ctx<'_>, doc: &Value) -> Result<(), SpecError> {
    let misplaced = crate::checked::find_in(doc, "", &|v, at| {
        let marker = if crate::checked::is_sensitive(v) {
            "x-kernel-sensitive".to_owned()
        } else {
            format!("format: {}", crate::checked::kernel_format(v)?)
        };
        let parts: Vec<&str> = at.split('/').collect();
        let is_component = parts.len() == 4 && parts[1] == "components" && parts[2] == "schemas";
        let why = if !is_component {
            "is honoured on component schemas only: move the schema to components.schemas and $ref it"
        } else if v.get("type").and_then(Value::as_str) != Some("string") {
            "is supported on `type: string` schemas only"
        } else if v.get("nullable").and_then(Value::as_bool) == Some(true) {
            "is not supported on a nullable schema (the generated type would not accept null): leave the property out of `required` instead"
        } else {
            return None;
        };
        Some((marker, at.to_owned(), why))
    });
    match misplaced {
        Some((m, at, why)) => Err(cx.err(format!("{m} at {at}"), why)),
        None => Ok(()),
    }
}

/// The Rust type name typify gives a schema name (typify-impl 0.8's `sanitize` with
/// Pascal case): words in UpperCamelCase, characters that cannot continue an identifier
/// as word breaks, an `X` in front of a name that cannot start one (`3ds` → `X3ds`), and
/// `_` after a keyword (`Self_`). Always a valid identifier, so generation never panics
/// on a name.
pub fn rust_type_name(name: &str) -> String {
    use heck::ToPascalCase;
    let out = match name {
        "+1" => "plus1".to_owned(),
        "-1" => "minus1".to_owned(),
        _ => name
            .replace('\'', "")
            .replace(|c| !unicode_ident::is_xid_continue(c), "-")
            .to_pascal_case(),
    };
    let out = match out.chars().next() {
        None => "X".to_owned(),
        Some(c) if unicode_ident::is_xid_start(c) => out,
        Some(_) => format!("X{out}"),
    };
    if out == "Self" {
        format!("{out}_")
    } else {
        out
    }
}

fn check_schema_names(cx: &Ctx<'_>, doc: &Value) -> Result<(), SpecError> {
    let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (name, schema) in schemas {
        let rust = rust_type_name(name).to_ascii_lowercase();
        if let Some(other) = seen.insert(rust, name) {
            return Err(cx.err(
                format!("schema {name}"),
                format!(
                    "collides with schema {other} once converted to a Rust type name; rename one"
                ),
            ));
        }
        let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
        if nullable && (schema.get("oneOf").is_some() || schema.get("anyOf").is_some()) {
            return Err(cx.err(
                format!("schema {name}"),
                "a named oneOf/anyOf schema cannot also be nullable (the generator emits it twice); make the property that uses it nullable instead",
            ));
        }
    }
    Ok(())
}

/// Follows a local `$ref` (one level at a time) to the referenced value.
pub(crate) fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    let mut cur = v;
    for _ in 0..16 {
        match cur.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
                Some(next) => cur = next,
                None => return cur,
            },
            None => return cur,
        }
    }
    cur
}

/// Derived operationId: `get /items/{id}` → `get_items_by_id`, `get /` → `get_root`.
pub fn derive_operation_id(method: &str, path: &str) -> String {
    let mut parts = vec![method.to_ascii_lowercase()];
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        let (by, word) = match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(var) => (true, var.trim_end_matches('+')),
            None => (false, seg),
        };
        let clean = snake(word).trim_matches('_').to_owned();
        if clean.is_empty() {
            continue;
        }
        if by {
            parts.push("by".into());
        }
        parts.push(clean);
    }
    if parts.len() == 1 {
        parts.push("root".into());
    }
    parts.join("_")
}

fn template_vars(path: &str) -> Vec<String> {
    let mut vars = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        vars.push(rest[start + 1..start + end].to_owned());
        rest = &rest[start + end + 1..];
    }
    vars
}

const REQUEST_MEDIA: &[&str] = &[
    "application/json",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
    "text/plain",
];

#[derive(PartialEq, Debug)]
enum Shape {
    Empty,
    Json(Value),
    Other(String),
}

fn fix_paths(cx: &mut Ctx<'_>, doc: &mut Value) -> Result<(), SpecError> {
    let snapshot = doc.clone();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return Err(cx.err("paths", "missing"));
    };
    let mut renamed: Vec<(String, String)> = Vec::new();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            return Err(cx.err(format!("path {path}"), "is not a mapping"));
        };
        if item.contains_key("$ref") {
            return Err(cx.err(
                format!("path {path}"),
                "path-item $ref is not supported; inline it",
            ));
        }
        // Greedy variables: `{proxy+}` → `{proxy}`.
        let mut new_path = path.clone();
        for var in template_vars(path) {
            if let Some(base) = var.strip_suffix('+') {
                new_path = new_path.replace(&format!("{{{var}}}"), &format!("{{{base}}}"));
                cx.note(
                    None,
                    format!("path {path}: greedy variable {{{var}}} renamed {{{base}}}"),
                );
            }
        }
        if &new_path != path {
            renamed.push((path.clone(), new_path.clone()));
        }
        let vars: Vec<String> = template_vars(&new_path);
        let shared: Vec<Value> = item
            .remove("parameters")
            .and_then(|p| p.as_array().cloned())
            .unwrap_or_default();
        for m in ["options", "trace"] {
            if item.remove(m).is_some() {
                cx.note(None, format!("path {path}: `{m}` operation removed"));
            }
        }
        for method in METHODS {
            let Some(op) = item.get_mut(*method) else {
                continue;
            };
            let Some(op) = op.as_object_mut() else {
                return Err(cx.err(
                    format!("{} {path}", method.to_uppercase()),
                    "is not a mapping",
                ));
            };
            let id = match op.get("operationId").and_then(Value::as_str) {
                Some(id) if !id.trim().is_empty() => id.to_owned(),
                _ => {
                    let id = derive_operation_id(method, &new_path);
                    op.insert("operationId".into(), Value::String(id.clone()));
                    cx.note(
                        Some(&format!("`{id}` ({} {new_path})", method.to_uppercase())),
                        "operationId derived from method and path",
                    );
                    id
                }
            };
            let label = format!("`{id}` ({} {new_path})", method.to_uppercase());
            if !ids.insert(snake(&id)) {
                return Err(cx
                    .err("operationId", "is used by another operation (after conversion to snake_case); ids must be unique")
                    .op(label));
            }
            fix_parameters(cx, &snapshot, op, &shared, &vars, &label)?;
            fix_request_body(cx, &snapshot, op, &label)?;
            fix_responses(cx, &snapshot, op, &label)?;
        }
    }
    for (old, new) in renamed {
        if let Some(item) = paths.remove(&old) {
            paths.insert(new, item);
        }
    }
    Ok(())
}

/// One JSON Pointer reference token (RFC 6901): `~` → `~0`, `/` → `~1`, so a path such
/// as `/files/{proxy}` or a schema name can be used inside `Value::pointer`.
pub fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// snake_case as progenitor converts operation ids (`decodeToken` → `decode_token`): heck's
/// conversion, which progenitor uses too.
pub fn snake(s: &str) -> String {
    use heck::ToSnakeCase;
    s.to_snake_case()
}

fn fix_parameters(
    cx: &mut Ctx<'_>,
    doc: &Value,
    op: &mut Map<String, Value>,
    shared: &[Value],
    vars: &[String],
    label: &str,
) -> Result<(), SpecError> {
    let own: Vec<Value> = op
        .remove("parameters")
        .and_then(|p| p.as_array().cloned())
        .unwrap_or_default();
    let mut params: Vec<Value> = Vec::new();
    let key = |p: &Value| {
        (
            p.get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            p.get("in")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        )
    };
    for p in own.iter().chain(shared.iter()) {
        let mut p = p.clone();
        if p.get("$ref").is_some() {
            // Valid OpenAPI, inlined quietly: the generator reads parameters inline.
            p = deref(doc, &p).clone();
        }
        if params.iter().any(|q| key(q) == key(&p)) {
            continue; // an operation-level parameter overrides a path-level one
        }
        if !own.iter().any(|q| key(q) == key(&p)) {
            cx.note(
                Some(label),
                format!("path-level parameter `{}` copied in", key(&p).0),
            );
        }
        params.push(p);
    }
    for p in params.iter_mut() {
        let (name, location) = key(p);
        let construct = format!("parameter {name}");
        match location.as_str() {
            "cookie" => {
                return Err(cx
                    .err(construct, "cookie parameters are not supported")
                    .op(label));
            }
            "path" => {
                if let Some(base) = name.strip_suffix('+') {
                    p["name"] = Value::String(base.to_owned());
                    cx.note(
                        Some(label),
                        format!("greedy parameter `{name}` renamed `{base}`"),
                    );
                }
                if p.get("required").and_then(Value::as_bool) != Some(true) {
                    p["required"] = Value::Bool(true);
                    cx.note(
                        Some(label),
                        format!("path parameter `{name}` made required"),
                    );
                }
            }
            "query" => {
                if let Some(style) = p.get("style").and_then(Value::as_str)
                    && style != "form"
                {
                    return Err(cx
                        .err(
                            construct,
                            format!("query style `{style}` is not supported (form only)"),
                        )
                        .op(label));
                }
            }
            "header" => {}
            other => {
                return Err(cx
                    .err(
                        construct,
                        format!("`in: {other}` is not a parameter location"),
                    )
                    .op(label));
            }
        }
        if p.get("schema").is_none() {
            if p.get("content").is_some() {
                return Err(cx
                    .err(
                        construct,
                        "parameters described by `content` are not supported; use `schema`",
                    )
                    .op(label));
            }
            p["schema"] = json!({"type": "string"});
            cx.note(
                Some(label),
                format!("parameter `{name}` without a schema: string"),
            );
        }
    }
    let mut setters: BTreeMap<String, String> = BTreeMap::new();
    for p in &params {
        let (name, location) = key(p);
        if let Some(other) = setters.insert(snake(&name), format!("{location} {name}")) {
            return Err(cx
                .err(
                    format!("parameter {location} {name}"),
                    format!("has the same Rust name as {other}; rename one"),
                )
                .op(label));
        }
    }
    for var in vars {
        let declared = params.iter().any(|p| {
            p.get("in").and_then(Value::as_str) == Some("path")
                && p.get("name").and_then(Value::as_str) == Some(var.as_str())
        });
        if !declared {
            params.push(
                json!({"name": var, "in": "path", "required": true, "schema": {"type": "string"}}),
            );
            cx.note(
                Some(label),
                format!("path variable {{{var}}} had no parameter: string parameter added"),
            );
        }
    }
    for p in &params {
        if p.get("in").and_then(Value::as_str) == Some("path") {
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            if !vars.iter().any(|v| v == name) {
                return Err(cx
                    .err(
                        format!("parameter {name}"),
                        "is declared `in: path` but the path has no such variable",
                    )
                    .op(label));
            }
        }
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    Ok(())
}

fn fix_request_body(
    cx: &mut Ctx<'_>,
    doc: &Value,
    op: &mut Map<String, Value>,
    label: &str,
) -> Result<(), SpecError> {
    let Some(body) = op.get_mut("requestBody") else {
        return Ok(());
    };
    if body.get("$ref").is_some() {
        *body = deref(doc, body).clone(); // valid OpenAPI, inlined quietly
    }
    let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) else {
        return Err(cx.err("request body", "has no `content`").op(label));
    };
    if content.len() > 1 {
        if content.contains_key("application/json") {
            content.retain(|k, _| k == "application/json");
            cx.note(
                Some(label),
                "request body: several media types, application/json kept",
            );
        } else {
            let types: Vec<&String> = content.keys().collect();
            return Err(cx
                .err(
                    "request body",
                    format!("several media types ({types:?}) and none is application/json"),
                )
                .op(label));
        }
    }
    for (media, m) in content.iter_mut() {
        let base = media.split(';').next().unwrap_or_default().trim();
        if !REQUEST_MEDIA.contains(&base) {
            return Err(cx
                .err("request body", format!("media type {media} is not supported (json, octet-stream, form-urlencoded, text/plain)"))
                .op(label));
        }
        if let Some(m) = m.as_object_mut()
            && m.remove("encoding").is_some()
        {
            cx.note(Some(label), "request body `encoding` removed");
        }
    }
    Ok(())
}

fn response_shape(doc: &Value, response: &Value) -> Shape {
    match response.get("content").and_then(Value::as_object) {
        None => Shape::Empty,
        Some(c) if c.is_empty() => Shape::Empty,
        Some(c) => {
            let json = c.iter().find(|(k, _)| {
                k.split(';').next().unwrap_or_default().trim() == "application/json"
            });
            match json {
                Some((_, m)) => Shape::Json(
                    m.get("schema")
                        .map(|s| deref(doc, s).clone())
                        .unwrap_or(json!({})),
                ),
                None => Shape::Other(c.keys().next().cloned().unwrap_or_default()),
            }
        }
    }
}

fn fix_responses(
    cx: &mut Ctx<'_>,
    doc: &Value,
    op: &mut Map<String, Value>,
    label: &str,
) -> Result<(), SpecError> {
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return Err(cx
            .err("responses", "missing; every operation needs at least one")
            .op(label));
    };
    if responses.remove("default").is_some() {
        cx.note(
            Some(label),
            "`default` response removed (declare explicit status codes)",
        );
    }
    if responses.is_empty() {
        return Err(cx.err("responses", "no explicit status code").op(label));
    }
    for (code, r) in responses.iter_mut() {
        if code.eq_ignore_ascii_case("5XX") || code == "599" {
            return Err(cx
                .err(format!("response {code}"), "the 5XX range and status 599 are reserved by the SDK (599 carries transport errors); list 500, 502, 503, 504 explicitly")
                .op(label));
        }
        let valid = code.len() == 3
            && (code.bytes().all(|b| b.is_ascii_digit())
                || (code.as_bytes()[0].is_ascii_digit() && code[1..].eq_ignore_ascii_case("XX")));
        if !valid {
            return Err(cx
                .err(format!("response {code}"), "is not a status code")
                .op(label));
        }
        if r.get("$ref").is_some() {
            *r = deref(doc, r).clone(); // valid OpenAPI, inlined quietly
        }
        if let Some(content) = r.get_mut("content").and_then(Value::as_object_mut) {
            for (media, m) in content.iter_mut() {
                let is_json =
                    media.split(';').next().unwrap_or_default().trim() == "application/json";
                if is_json && m.get("schema").is_none() {
                    if let Some(m) = m.as_object_mut() {
                        m.insert("schema".into(), json!({}));
                    }
                    cx.note(
                        Some(label),
                        format!("response {code}: JSON without a schema, `{{}}` used"),
                    );
                }
            }
        }
    }
    // progenitor needs one success type and one error type per operation.
    let mut success: Vec<(String, Shape)> = Vec::new();
    let mut errors: Vec<(String, Shape)> = Vec::new();
    for (code, r) in responses.iter() {
        let shape = response_shape(doc, r);
        match code.as_bytes()[0] {
            b'2' => success.push((code.clone(), shape)),
            b'4' | b'5' => errors.push((code.clone(), shape)),
            _ => {}
        }
    }
    for (what, list) in [("success (2xx)", &success), ("error (4xx/5xx)", &errors)] {
        if let Some((first_code, first)) = list.first()
            && let Some((code, _)) = list.iter().find(|(_, s)| s != first)
        {
            return Err(cx
                .err(
                    format!("responses {first_code} and {code}"),
                    format!("{what} responses must all have the same shape (the client has one {what} type); give them the same schema, or drop one"),
                )
                .op(label));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids() {
        assert_eq!(derive_operation_id("get", "/items/{id}"), "get_items_by_id");
        assert_eq!(
            derive_operation_id("post", "/v1/tokenize"),
            "post_v1_tokenize"
        );
        assert_eq!(derive_operation_id("get", "/"), "get_root");
        assert_eq!(derive_operation_id("any", "/{proxy+}"), "any_by_proxy");
        assert_eq!(
            derive_operation_id("get", "/decode-token"),
            "get_decode_token"
        );
        assert_eq!(
            derive_operation_id("get", "/widgets/{widgetId}"),
            "get_widgets_by_widget_id"
        );
    }

    #[test]
    fn snake_case_like_progenitor() {
        assert_eq!(snake("decodeToken"), "decode_token");
        assert_eq!(snake("get_items_by_id"), "get_items_by_id");
        assert_eq!(snake("lookup"), "lookup");
        assert_eq!(snake("Get-Thing"), "get_thing");
    }

    #[test]
    fn type_names() {
        assert_eq!(rust_type_name("card-token"), "CardToken");
        assert_eq!(rust_type_name("CardToken"), "CardToken");
        assert_eq!(rust_type_name("card_token"), "CardToken");
        assert_eq!(rust_type_name("3dsAuthenticate"), "X3dsAuthenticate");
        assert_eq!(rust_type_name("1Pin"), "X1pin");
        assert_eq!(rust_type_name("self"), "Self_");
        assert_eq!(rust_type_name("CVV"), "Cvv");
        assert_eq!(rust_type_name("é-card"), "ÉCard");
        assert_eq!(rust_type_name(""), "X");
    }
}
