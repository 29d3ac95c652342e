//! A small validator for OpenAPI 3.0 Schema Objects: the subset the kernel's specs use
//! (`type`, `nullable`, `enum`, `pattern`, `format` (kernel formats only), lengths,
//! bounds, `multipleOf`, `items`, `properties`,
//! `required`, `additionalProperties`, `allOf`/`oneOf`/`anyOf`, local `$ref`s).
//!
//! It checks the specs' examples and validates requests in the sandbox. It is written
//! independently of the generated clients (which validate through typify's newtypes), so
//! the sandbox is a second opinion, not a mirror. Messages name the location and the rule,
//! never the value: values may be card data.

use serde_json::Value;

/// Why a value does not match: where (`paymentData.header.transactionId`, `[2]`, or empty
/// for the root) and which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON path of the offending value (`card_number`, `items[2]`); empty for the root.
    pub at: String,
    /// The rule it breaks (`does not match ^[0-9]{4}$`, `missing`, `expected string`).
    pub why: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.at.is_empty() {
            write!(f, "body: {}", self.why)
        } else {
            write!(f, "{}: {}", self.at, self.why)
        }
    }
}

/// Validates `value` against `schema`; `doc` resolves `#/components/...` references.
pub fn validate(doc: &Value, schema: &Value, value: &Value) -> Result<(), Violation> {
    check(doc, schema, value, &mut String::new(), 0)
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

fn violation(at: &str, why: impl Into<String>) -> Violation {
    Violation {
        at: at.to_owned(),
        why: why.into(),
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    at: &mut String,
    depth: u32,
) -> Result<(), Violation> {
    if depth > 64 {
        return Err(violation(at, "schema nesting too deep (recursive $ref?)"));
    }
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => match r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
            Some(s) => return check(doc, s, value, at, depth + 1),
            None => return Err(violation(at, format!("schema $ref {r} does not resolve"))),
        },
        None => schema,
    };
    let Some(s) = schema.as_object() else {
        return Ok(()); // `{}` or `true`: anything
    };
    if value.is_null() {
        if s.get("nullable").and_then(Value::as_bool) == Some(true) || s.is_empty() {
            return Ok(());
        }
        if s.get("type").is_some() {
            return Err(violation(at, "must not be null"));
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            check(doc, sub, value, at, depth + 1)?;
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array)
        && !any
            .iter()
            .any(|sub| check(doc, sub, value, &mut at.clone(), depth + 1).is_ok())
    {
        return Err(violation(at, "matches none of the anyOf alternatives"));
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        let n = one
            .iter()
            .filter(|sub| check(doc, sub, value, &mut at.clone(), depth + 1).is_ok())
            .count();
        if n != 1 {
            return Err(violation(
                at,
                format!("matches {n} of the oneOf alternatives (exactly one required)"),
            ));
        }
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let actual = type_of(value);
        let ok = actual == t || (t == "number" && actual == "integer");
        if !ok {
            return Err(violation(at, format!("expected {t}, got {actual}")));
        }
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let listed: Vec<String> = options.iter().map(Value::to_string).collect();
        return Err(violation(
            at,
            format!("must be one of {}", listed.join(", ")),
        ));
    }
    match value {
        Value::String(text) => check_string(s, text, at)?,
        Value::Number(n) => check_number(s, n, at)?,
        Value::Array(items) => {
            let len = items.len() as u64;
            if let Some(min) = s.get("minItems").and_then(Value::as_u64)
                && len < min
            {
                return Err(violation(at, format!("needs at least {min} item(s)")));
            }
            if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
                && len > max
            {
                return Err(violation(at, format!("allows at most {max} item(s)")));
            }
            if let Some(item_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    let mut sub = format!("{at}[{i}]");
                    check(doc, item_schema, item, &mut sub, depth + 1)?;
                }
            }
        }
        Value::Object(map) => {
            if let Some(required) = s.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(name) {
                        return Err(violation(&join(at, name), "required but missing"));
                    }
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            for (key, v) in map {
                let mut sub = join(at, key);
                match props.and_then(|p| p.get(key)) {
                    Some(ps) => check(doc, ps, v, &mut sub, depth + 1)?,
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            return Err(violation(&sub, "is not an allowed property"));
                        }
                        Some(extra @ Value::Object(_)) => {
                            check(doc, extra, v, &mut sub, depth + 1)?
                        }
                        _ => {}
                    },
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_string(s: &serde_json::Map<String, Value>, text: &str, at: &str) -> Result<(), Violation> {
    let chars = text.chars().count() as u64;
    if let Some(min) = s.get("minLength").and_then(Value::as_u64)
        && chars < min
    {
        return Err(violation(at, format!("shorter than {min} character(s)")));
    }
    if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
        && chars > max
    {
        return Err(violation(at, format!("longer than {max} character(s)")));
    }
    if let Some(p) = s.get("pattern").and_then(Value::as_str) {
        let re = regress::Regex::new(p).map_err(|_| {
            violation(
                at,
                format!("the schema's pattern {p} is not a valid ECMA-262 regex"),
            )
        })?;
        if re.find(text).is_none() {
            return Err(violation(at, format!("does not match {p}")));
        }
    }
    if let Some(format) = s.get("format").and_then(Value::as_str)
        && let Some(Err(why)) = crate::formats::check(format, text)
    {
        return Err(violation(at, why));
    }
    Ok(())
}

fn check_number(
    s: &serde_json::Map<String, Value>,
    n: &serde_json::Number,
    at: &str,
) -> Result<(), Violation> {
    let Some(x) = n.as_f64() else { return Ok(()) };
    let excl_min = s.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true);
    let excl_max = s.get("exclusiveMaximum").and_then(Value::as_bool) == Some(true);
    if let Some(min) = s.get("minimum").and_then(Value::as_f64)
        && (x < min || (excl_min && x == min))
    {
        return Err(violation(at, format!("below the minimum {min}")));
    }
    if let Some(max) = s.get("maximum").and_then(Value::as_f64)
        && (x > max || (excl_max && x == max))
    {
        return Err(violation(at, format!("above the maximum {max}")));
    }
    if let Some(m) = s.get("multipleOf").and_then(Value::as_f64)
        && m > 0.0
    {
        let q = x / m;
        if (q - q.round()).abs() > 1e-9 * q.abs().max(1.0) {
            return Err(violation(at, format!("not a multiple of {m}")));
        }
    }
    Ok(())
}

/// Every value a parameter was given (repeated query keys) as the schema's JSON type: an
/// array schema takes them all (each coerced by `items`; a single value may also be a
/// comma-separated list or a JSON array), any other schema the first.
pub fn coerce_parameter_values(doc: &Value, schema: &Value, raws: &[String]) -> Value {
    let resolved = crate::normalise::deref(doc, schema);
    if resolved.get("type").and_then(Value::as_str) == Some("array") {
        let items = resolved.get("items").cloned().unwrap_or(Value::Null);
        let parts: Vec<String> = match raws {
            [one] if one.starts_with('[') => match serde_json::from_str::<Value>(one) {
                Ok(Value::Array(a)) => {
                    return Value::Array(a);
                }
                _ => vec![one.clone()],
            },
            [one] => one.split(',').map(str::to_owned).collect(),
            many => many.to_vec(),
        };
        return Value::Array(
            parts
                .iter()
                .map(|p| coerce_parameter(doc, &items, p))
                .collect(),
        );
    }
    match raws.first() {
        Some(raw) => coerce_parameter(doc, schema, raw),
        None => Value::Null,
    }
}

/// A query, path or header value as the schema's JSON type (`"7"` → `7` for an integer),
/// so that it can be validated like a body value. Unparseable values stay strings and
/// then fail the type check.
pub fn coerce_parameter(doc: &Value, schema: &Value, raw: &str) -> Value {
    let schema = crate::normalise::deref(doc, schema);
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") => raw
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(raw.to_owned())),
        Some("number") => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(raw.to_owned())),
        Some("boolean") => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(raw.to_owned()),
        },
        _ => Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"components": {"schemas": {
            "Cvv": {"type": "string", "pattern": "^[0-9]{3,4}$"},
            "Req": {"type": "object", "required": ["cvv"], "additionalProperties": false,
                     "properties": {"cvv": {"$ref": "#/components/schemas/Cvv"},
                                    "n": {"type": "integer", "minimum": 1, "maximum": 12},
                                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}}}
        }}})
    }

    fn v(value: Value) -> Result<(), Violation> {
        validate(&doc(), &json!({"$ref": "#/components/schemas/Req"}), &value)
    }

    #[test]
    fn accepts_valid_values() {
        assert_eq!(v(json!({"cvv": "123", "n": 12, "tags": ["a"]})), Ok(()));
    }

    #[test]
    fn names_the_place_and_rule_never_the_value() {
        let e = v(json!({"cvv": "98765"})).unwrap_err();
        assert_eq!(e.at, "cvv");
        assert!(e.why.contains("does not match"), "{e}");
        assert!(!e.to_string().contains("98765"));
        assert_eq!(v(json!({})).unwrap_err().at, "cvv");
        assert_eq!(
            v(json!({"cvv": "123", "x": 1})).unwrap_err().why,
            "is not an allowed property"
        );
        assert_eq!(
            v(json!({"cvv": "123", "n": 13})).unwrap_err().why,
            "above the maximum 12"
        );
        assert_eq!(
            v(json!({"cvv": "123", "n": "1"})).unwrap_err().why,
            "expected integer, got string"
        );
        assert_eq!(
            v(json!({"cvv": "123", "tags": ["a", 1]})).unwrap_err().at,
            "tags[1]"
        );
        assert_eq!(
            v(json!({"cvv": "123", "tags": ["a", "b", "c"]}))
                .unwrap_err()
                .why,
            "allows at most 2 item(s)"
        );
        assert_eq!(v(json!([1])).unwrap_err().why, "expected object, got array");
    }

    #[test]
    fn checks_kernel_formats_and_ignores_others() {
        let d = doc();
        let aba =
            json!({"type": "string", "pattern": "^[0-9]{9}$", "format": "aba-routing-number"});
        assert_eq!(validate(&d, &aba, &json!("021000021")), Ok(()));
        let e = validate(&d, &aba, &json!("021000022")).unwrap_err();
        assert!(e.why.contains("checksum"), "{e}");
        assert!(!e.to_string().contains("021000022"));
        // The pattern is reported first for a value of the wrong shape.
        let e = validate(&d, &aba, &json!("12345")).unwrap_err();
        assert!(e.why.contains("does not match"), "{e}");
        let five = json!({"type": "integer", "multipleOf": 5});
        assert_eq!(validate(&d, &five, &json!(15)), Ok(()));
        assert_eq!(
            validate(&d, &five, &json!(16)).unwrap_err().why,
            "not a multiple of 5"
        );
        let email = json!({"type": "string", "format": "email"});
        assert_eq!(validate(&d, &email, &json!("not an email")), Ok(()));
    }

    #[test]
    fn coerces_parameters_by_type() {
        let d = doc();
        assert_eq!(
            coerce_parameter(&d, &json!({"type": "integer"}), "7"),
            json!(7)
        );
        assert_eq!(
            coerce_parameter(&d, &json!({"type": "integer"}), "x"),
            json!("x")
        );
        assert_eq!(
            coerce_parameter(&d, &json!({"type": "boolean"}), "true"),
            json!(true)
        );
        assert_eq!(
            coerce_parameter(&d, &json!({"$ref": "#/components/schemas/Cvv"}), "012"),
            json!("012")
        );
    }
}
