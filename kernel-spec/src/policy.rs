//! The rules every spec in `openapi/` follows, on top of what normalisation needs. They make
//! the typed clients, the sandbox and the CLI complete: metadata, a server URL matching
//! DESIGN.md, API Gateway's SigV4 scheme, `{ "message": … }` errors, a valid example for
//! every request and response, and no `default` its own schema refuses.

use serde_json::Value;

use crate::error::SpecError;
use crate::load::Spec;
use crate::operations::operations;
use crate::schema::{coerce_parameter, validate};

/// Every policy problem of `spec` (empty when it complies).
pub fn check(spec: &Spec) -> Vec<SpecError> {
    let mut problems = Vec::new();
    let name = spec.name.as_str();
    let doc = &spec.doc;
    let Some(meta) = &spec.meta else {
        problems.push(SpecError::new(
            name,
            "x-kernel",
            "missing: every kernel spec carries its service metadata (see kernel-spec/src/meta.rs)",
        ));
        return problems;
    };
    let expected_server = if meta.region_in_url {
        format!(
            "https://{{region}}.{{kernel_env}}.{{url_stage}}.com/{}",
            meta.prefix
        )
    } else {
        format!("https://{}.{{kernel_env}}.{{url_stage}}.com", meta.prefix)
    };
    let server = doc.pointer("/servers/0/url").and_then(Value::as_str);
    if server != Some(expected_server.as_str()) {
        problems.push(SpecError::new(
            name,
            "servers[0].url",
            format!("must be `{expected_server}` (the kernel's URL pattern for this service; README: Resolution)"),
        ));
    }
    let sigv4 = spec
        .raw
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
        .is_some_and(|schemes| {
            schemes.values().any(|s| {
                s.get("type").and_then(Value::as_str) == Some("apiKey")
                    && s.get("in").and_then(Value::as_str) == Some("header")
                    && s.get("name").and_then(Value::as_str) == Some("Authorization")
                    && s.get("x-amazon-apigateway-authtype")
                        .and_then(Value::as_str)
                        == Some("awsSigv4")
            })
        });
    if !sigv4 {
        problems.push(SpecError::new(
            name,
            "components.securitySchemes",
            "needs API Gateway's SigV4 scheme: type apiKey, in header, name Authorization, x-amazon-apigateway-authtype awsSigv4",
        ));
    }
    let ops = operations(doc);
    if ops.is_empty() {
        problems.push(SpecError::new(name, "paths", "no operations"));
    }
    for op in &ops {
        let label = op.label();
        let err =
            |construct: String, why: String| SpecError::new(name, construct, why).op(label.clone());
        for p in &op.parameters {
            match &p.example {
                None => problems.push(err(
                    format!("parameter {}", p.name),
                    "has no example".into(),
                )),
                Some(ex) => {
                    let value = match ex {
                        Value::String(s) => coerce_parameter(doc, &p.schema, s),
                        other => other.clone(),
                    };
                    if let Err(v) = validate(doc, &p.schema, &value) {
                        problems.push(err(format!("parameter {} example", p.name), v.why));
                    }
                }
            }
        }
        if let Some(body) = &op.body {
            match &body.example {
                None => problems.push(err("request body".into(), "has no example".into())),
                Some(ex) => {
                    if let Err(v) = validate(doc, &body.schema, ex) {
                        problems.push(err("request body example".into(), v.to_string()));
                    }
                }
            }
        }
        if op.success().is_none() {
            problems.push(err("responses".into(), "no 2xx response".into()));
        }
        for r in &op.responses {
            let construct = format!("response {}", r.status);
            if r.has_content && r.schema.is_none() {
                problems.push(err(
                    construct.clone(),
                    "has content but no application/json schema".into(),
                ));
                continue;
            }
            let Some(schema) = &r.schema else { continue };
            match &r.example {
                None => problems.push(err(construct.clone(), "has no example".into())),
                Some(ex) => {
                    if let Err(v) = validate(doc, schema, ex) {
                        problems.push(err(format!("{construct} example"), v.to_string()));
                    }
                }
            }
            if !r.status.starts_with('2') && !is_message_error(doc, schema) {
                problems.push(err(
                    construct,
                    "error bodies must be an object with a required string `message`".into(),
                ));
            }
        }
        for (construct, schema) in op_schemas(op) {
            check_defaults(doc, schema, &construct, &mut |at, why| {
                problems.push(err(at, why));
            });
        }
        if op.responses.iter().all(|r| r.status.starts_with('2')) {
            problems.push(err(
                "responses".into(),
                "no error response documented (every operation can fail: document its 4xx, e.g. 400, and API Gateway's 403)".into(),
            ));
        }
    }
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (schema_name, schema) in schemas {
            let construct = format!("components.schemas.{schema_name}");
            check_defaults(doc, schema, &construct, &mut |at, why| {
                problems.push(SpecError::new(name, at, why));
            });
        }
    }
    problems
}

/// The inline schemas of one operation, each with the construct that names it.
fn op_schemas(op: &crate::operations::Operation) -> Vec<(String, &Value)> {
    let params = op
        .parameters
        .iter()
        .map(|p| (format!("parameter {}", p.name), &p.schema));
    let body = op
        .body
        .iter()
        .map(|b| ("request body".to_owned(), &b.schema));
    let responses = op
        .responses
        .iter()
        .filter_map(|r| Some((format!("response {}", r.status), r.schema.as_ref()?)));
    params.chain(body).chain(responses).collect()
}

/// Reports every `default` in `schema` (and the schemas inside it, `$ref`s not followed:
/// components are checked once on their own) that its own schema refuses. A bad default
/// would be written into the generated client as the value a builder starts from, so the
/// client would send what the spec forbids.
fn check_defaults(doc: &Value, schema: &Value, at: &str, report: &mut impl FnMut(String, String)) {
    let Some(s) = schema.as_object() else { return };
    if let Some(default) = s.get("default") {
        let mut without = s.clone();
        without.remove("default");
        if let Err(v) = validate(doc, &Value::Object(without), default) {
            let why = if v.at.is_empty() {
                v.why
            } else {
                format!("{}: {}", v.at, v.why)
            };
            report(format!("{at} default"), why);
        }
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, child) in props {
            check_defaults(doc, child, &format!("{at}.{k}"), report);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = s.get(key) {
            check_defaults(doc, child, &format!("{at}.{key}"), report);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for (i, child) in s
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            check_defaults(doc, child, &format!("{at}.{key}[{i}]"), report);
        }
    }
}

fn is_message_error(doc: &Value, schema: &Value) -> bool {
    let s = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => match r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
            Some(s) => s,
            None => return false,
        },
        None => schema,
    };
    let required = s
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|v| v == "message"));
    let string = s
        .pointer("/properties/message/type")
        .and_then(Value::as_str)
        == Some("string");
    required && string
}
