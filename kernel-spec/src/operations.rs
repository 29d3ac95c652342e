//! The operations of a normalised document, flattened: what the sandbox routes, the policy
//! checks and the CLI generator need, without walking the OpenAPI tree again.

use serde_json::Value;

use crate::normalise::{METHODS, snake};

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterLocation {
    /// A `{name}` in the path.
    Path,
    /// `?name=value`.
    Query,
    /// A request header.
    Header,
}

/// One parameter of an operation.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// Name as on the wire.
    pub name: String,
    /// Location.
    pub location: ParameterLocation,
    /// Whether it must be present.
    pub required: bool,
    /// Its schema (may be a `$ref`).
    pub schema: Value,
    /// Its example, if any.
    pub example: Option<Value>,
    /// Its description, if any.
    pub description: Option<String>,
}

/// The request body of an operation.
#[derive(Debug, Clone)]
pub struct Body {
    /// Media type.
    pub media: String,
    /// Schema (may be a `$ref`).
    pub schema: Value,
    /// Example, if any.
    pub example: Option<Value>,
    /// `requestBody.required` (OpenAPI's default: false).
    pub required: bool,
}

/// One documented response.
#[derive(Debug, Clone)]
pub struct ResponseSpec {
    /// Status code or range (`200`, `4XX`).
    pub status: String,
    /// JSON schema of the body, when it has a JSON body.
    pub schema: Option<Value>,
    /// Example, if any.
    pub example: Option<Value>,
    /// Whether the response declares any content at all.
    pub has_content: bool,
}

/// One operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// operationId as written.
    pub id: String,
    /// The snake_case name progenitor gives its method.
    pub method_name: String,
    /// `GET`, `POST`, …
    pub method: String,
    /// Path template, e.g. `/v1/tokenize`.
    pub path: String,
    /// Summary or description (first line), for help texts.
    pub summary: Option<String>,
    /// Parameters.
    pub parameters: Vec<Parameter>,
    /// Request body.
    pub body: Option<Body>,
    /// Documented responses.
    pub responses: Vec<ResponseSpec>,
}

impl Operation {
    /// `` `id` (METHOD /path) ``, the label used in errors.
    pub fn label(&self) -> String {
        format!("`{}` ({} {})", self.id, self.method, self.path)
    }
    /// The first 2xx response.
    pub fn success(&self) -> Option<&ResponseSpec> {
        self.responses.iter().find(|r| r.status.starts_with('2'))
    }
}

/// The example of a media type object: `example`, else the first of `examples`.
pub fn media_example(media: &Value) -> Option<Value> {
    if let Some(e) = media.get("example") {
        return Some(e.clone());
    }
    media
        .get("examples")
        .and_then(Value::as_object)
        .and_then(|m| m.values().next())
        .and_then(|e| e.get("value"))
        .cloned()
}

/// All operations of a normalised document, in path then method order.
pub fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        for m in METHODS {
            let Some(op) = item.get(*m) else { continue };
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let parameters = op
                .get("parameters")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| {
                            let location = match p.get("in").and_then(Value::as_str)? {
                                "path" => ParameterLocation::Path,
                                "query" => ParameterLocation::Query,
                                "header" => ParameterLocation::Header,
                                _ => return None,
                            };
                            Some(Parameter {
                                name: p.get("name")?.as_str()?.to_owned(),
                                location,
                                required: p.get("required").and_then(Value::as_bool) == Some(true),
                                schema: p.get("schema").cloned().unwrap_or(Value::Null),
                                example: p.get("example").cloned().or_else(|| media_example(p)),
                                description: p
                                    .get("description")
                                    .and_then(Value::as_str)
                                    .map(str::to_owned),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            let body_required = op
                .pointer("/requestBody/required")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let body = op
                .get("requestBody")
                .and_then(|b| b.get("content"))
                .and_then(Value::as_object)
                .and_then(|c| c.iter().next())
                .map(|(media, m)| Body {
                    media: media.clone(),
                    schema: m.get("schema").cloned().unwrap_or(Value::Null),
                    example: media_example(m),
                    required: body_required,
                });
            let responses = op
                .get("responses")
                .and_then(Value::as_object)
                .map(|rs| {
                    rs.iter()
                        .map(|(status, r)| {
                            let content = r.get("content").and_then(Value::as_object);
                            let json = content.and_then(|c| {
                                c.iter().find(|(k, _)| {
                                    k.split(';').next().unwrap_or_default().trim()
                                        == "application/json"
                                })
                            });
                            ResponseSpec {
                                status: status.clone(),
                                schema: json.and_then(|(_, m)| m.get("schema").cloned()),
                                example: json.and_then(|(_, m)| media_example(m)),
                                has_content: content.is_some_and(|c| !c.is_empty()),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let summary = op
                .get("summary")
                .or_else(|| op.get("description"))
                .and_then(Value::as_str)
                .and_then(|s| s.lines().next())
                .map(str::to_owned);
            out.push(Operation {
                method_name: snake(&id),
                id,
                method: m.to_ascii_uppercase(),
                path: path.clone(),
                summary,
                parameters,
                body,
                responses,
            });
        }
    }
    out
}
