//! Which schemas become kernel-codegen's own *checked* newtypes instead of typify's types,
//! and the normalisation step that makes that possible for inline schemas.
//!
//! | schema | why typify's type is not enough |
//! |---|---|
//! | string with `x-kernel-sensitive: true` | its `Debug` would print the value |
//! | string with a kernel format ([`crate::formats`]) | typify does not know the checksum |
//! | integer or number with bounds typify's type does not enforce | typify maps `minimum: 1, maximum: 12` to `NonZeroU64` and `minimum: 2000` to `i64`: the value would be sent unchecked |
//!
//! typify's types *do* enforce `minimum: 0` (`u64`) and `minimum: 1` (`NonZeroU64`) on a
//! plain integer, so those stay typify's. A checked type replaces typify's by component
//! name, so `hoist_bounded_numbers` first moves every inline bounded number (a property,
//! an array's items, a parameter, a body) into `components.schemas` under a derived name
//! (`NewWidgetSize`, `ListItemsLimit`) and `$ref`s it.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::normalise::rust_type_name;

/// `x-kernel-sensitive: true`.
pub fn is_sensitive(schema: &Value) -> bool {
    schema.get("x-kernel-sensitive").and_then(Value::as_bool) == Some(true)
}

/// The schema's format when it is one of [`crate::formats::KERNEL_FORMATS`].
pub fn kernel_format(schema: &Value) -> Option<&str> {
    schema
        .get("format")
        .and_then(Value::as_str)
        .filter(|f| crate::formats::KERNEL_FORMATS.contains(f))
}

/// An integer or number schema with bounds (`minimum`, `maximum`, `exclusiveMinimum`,
/// `exclusiveMaximum`, `multipleOf`) that typify's type would not enforce. Nullable
/// schemas, enums and schemas with a `default` are left to typify (see the README's
/// constructs table): the service still checks them.
pub fn is_bounded_number(schema: &Value) -> bool {
    let Some(s) = schema.as_object() else {
        return false;
    };
    let ty = s.get("type").and_then(Value::as_str);
    if !matches!(ty, Some("integer" | "number"))
        || s.contains_key("enum")
        || s.contains_key("default")
        || s.get("nullable").and_then(Value::as_bool) == Some(true)
    {
        return false;
    }
    let flag = |k: &str| s.get(k).and_then(Value::as_bool) == Some(true);
    let has = |k: &str| s.contains_key(k);
    let bounded = has("minimum") || has("maximum") || has("multipleOf");
    if !bounded {
        return false;
    }
    if ty == Some("number") {
        return true;
    }
    // Exactly what typify's unsigned types already enforce.
    let typify_enforces = !has("maximum")
        && !has("multipleOf")
        && !flag("exclusiveMinimum")
        && !has("format")
        && matches!(s.get("minimum").and_then(Value::as_f64), Some(m) if m == 0.0 || m == 1.0);
    !typify_enforces
}

/// Why a number schema's bounds admit no value or are invalid (`multipleOf` must be
/// positive), if they do. Such a schema would make a type nothing can be built of.
pub fn impossible_bounds(schema: &Value) -> Option<&'static str> {
    let s = schema.as_object()?;
    let integer = match s.get("type").and_then(Value::as_str) {
        Some("integer") => true,
        Some("number") => false,
        _ => return None,
    };
    if let Some(m) = s.get("multipleOf")
        && !m.as_f64().is_some_and(|m| m > 0.0 && m.is_finite())
    {
        return Some("multipleOf must be a number greater than 0");
    }
    let flag = |k: &str| s.get(k).and_then(Value::as_bool) == Some(true);
    let (Some(min), Some(max)) = (
        s.get("minimum").and_then(Value::as_f64),
        s.get("maximum").and_then(Value::as_f64),
    ) else {
        return None;
    };
    let empty = if integer {
        let low = if flag("exclusiveMinimum") {
            min.floor() + 1.0
        } else {
            min.ceil()
        };
        let high = if flag("exclusiveMaximum") {
            max.ceil() - 1.0
        } else {
            max.floor()
        };
        low > high
    } else {
        min > max || (min == max && (flag("exclusiveMinimum") || flag("exclusiveMaximum")))
    };
    empty.then_some("no value satisfies its minimum and maximum")
}

/// The first schema in `doc` whose bounds are impossible: `(JSON pointer, why)`.
pub(crate) fn find_impossible_bounds(doc: &Value) -> Option<(String, &'static str)> {
    find_in(doc, "", &|v, at| {
        impossible_bounds(v).map(|why| (at.to_owned(), why))
    })
}

/// The first place in `v` (depth first, document order) where `f`, given the value and
/// its JSON pointer, finds something.
pub(crate) fn find_in<T>(v: &Value, at: &str, f: &impl Fn(&Value, &str) -> Option<T>) -> Option<T> {
    if let Some(found) = f(v, at) {
        return Some(found);
    }
    match v {
        Value::Object(map) => map.iter().find_map(|(k, child)| {
            find_in(
                child,
                &format!("{at}/{}", crate::normalise::pointer_token(k)),
                f,
            )
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, child)| find_in(child, &format!("{at}/{i}"), f)),
        _ => None,
    }
}

/// Bounds that would need a checked type but are left to typify because the schema is
/// nullable, an enum or has a `default` (regen notes them: the client does not check them).
fn bounds_left_to_typify(schema: &Value) -> bool {
    let Some(s) = schema.as_object() else {
        return false;
    };
    if is_bounded_number(schema) {
        return false;
    }
    let mut plain = s.clone();
    for k in ["nullable", "enum", "default"] {
        plain.remove(k);
    }
    is_bounded_number(&Value::Object(plain))
}

/// Whether kernel-codegen writes the type of this (component) schema itself.
pub fn is_checked(schema: &Value) -> bool {
    is_sensitive(schema) || kernel_format(schema).is_some() || is_bounded_number(schema)
}

/// Names of the component schemas that get a checked newtype.
pub fn checked_schemas(doc: &Value) -> Vec<String> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(_, s)| is_checked(s))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Moves inline bounded numbers into `components.schemas`; returns one line per move.
/// Runs after operationIds are derived (they name parameter and body schemas).
pub(crate) fn hoist_bounded_numbers(doc: &mut Value) -> Vec<String> {
    let mut h = Hoister {
        taken: doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .map(|m| {
                m.keys()
                    .map(|k| rust_type_name(k).to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default(),
        hoisted: Vec::new(),
        notes: Vec::new(),
    };
    // Inside component schemas (a component that is itself bounded is already named).
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            let at = format!("schema {name}");
            h.note_unchecked(schema, &at);
            h.children(schema, &rust_type_name(name), &at);
        }
    }
    // Parameters, request bodies and responses of every operation.
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                if crate::normalise::METHODS.contains(&method.as_str()) {
                    h.operation(op, path, method);
                }
            }
        }
    }
    if h.hoisted.is_empty() {
        return h.notes;
    }
    let Value::Object(schemas) = object_at(object_at(doc, "components"), "schemas") else {
        unreachable!("object_at returns a mapping")
    };
    let mut notes = std::mem::take(&mut h.notes);
    notes.extend(h.hoisted.into_iter().map(|(name, schema, at)| {
        let note =
            format!("{at}: bounded number moved to components.schemas.{name} (a checked type)");
        schemas.insert(name, schema);
        note
    }));
    notes
}

/// `parent[key]` as a mapping, made one if it is missing or not a mapping.
fn object_at<'a>(parent: &'a mut Value, key: &str) -> &'a mut Value {
    if !parent.is_object() {
        *parent = Value::Object(Map::new());
    }
    let Value::Object(map) = parent else {
        unreachable!("just made a mapping")
    };
    let child = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        *child = Value::Object(Map::new());
    }
    child
}

struct Hoister {
    /// Component names taken, as lower-case Rust type names.
    taken: BTreeSet<String>,
    /// `(component name, schema, where it was)`.
    hoisted: Vec<(String, Value, String)>,
    /// Bounds the client will not check, for the spec's owners.
    notes: Vec<String>,
}

impl Hoister {
    fn operation(&mut self, op: &mut Value, path: &str, method: &str) {
        let id = op
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let prefix = rust_type_name(&id);
        let at = format!("operation `{id}` ({} {path})", method.to_ascii_uppercase());
        if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            for p in params.iter_mut() {
                let name = p
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                if let Some(schema) = p.get_mut("schema") {
                    let type_name = format!("{prefix}{}", rust_type_name(&name));
                    self.visit(schema, &type_name, &format!("{at}: parameter {name}"));
                }
            }
        }
        if let Some(body) = op.get_mut("requestBody") {
            self.content(
                body,
                &format!("{prefix}Body"),
                &format!("{at}: request body"),
            );
        }
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            for (code, response) in responses.iter_mut() {
                let (name, where_) = (
                    format!("{prefix}Response{code}"),
                    format!("{at}: response {code}"),
                );
                self.content(response, &name, &where_);
            }
        }
    }

    /// The schema of every media type of a request body or response.
    fn content(&mut self, holder: &mut Value, name: &str, at: &str) {
        if let Some(content) = holder.get_mut("content").and_then(Value::as_object_mut) {
            for media in content.values_mut() {
                if let Some(schema) = media.get_mut("schema") {
                    self.visit(schema, name, at);
                }
            }
        }
    }

    fn note_unchecked(&mut self, schema: &Value, at: &str) {
        if bounds_left_to_typify(schema) {
            self.notes.push(format!(
                "{at}: bounds not checked by the client (the schema is nullable, an enum or has a default; the service checks them)"
            ));
        }
    }

    /// A schema in a position that may be replaced by a `$ref`.
    fn visit(&mut self, schema: &mut Value, name: &str, at: &str) {
        if schema.get("$ref").is_some() {
            return;
        }
        self.note_unchecked(schema, at);
        if is_bounded_number(schema) {
            let mut unique = name.to_owned();
            let mut n = 2;
            while !self
                .taken
                .insert(rust_type_name(&unique).to_ascii_lowercase())
            {
                unique = format!("{name}{n}");
                n += 1;
            }
            let moved = std::mem::replace(
                schema,
                json!({ "$ref": format!("#/components/schemas/{unique}") }),
            );
            self.hoisted.push((unique, moved, at.to_owned()));
            return;
        }
        self.children(schema, name, at);
    }

    /// The sub-schemas of an object or array schema. Composition keywords (`allOf`,
    /// `oneOf`, `anyOf`, `not`) are not entered: a `$ref` there would change how the
    /// generator merges or tells apart the alternatives.
    fn children(&mut self, schema: &mut Value, name: &str, at: &str) {
        let Some(s) = schema.as_object_mut() else {
            return;
        };
        for key in ["allOf", "oneOf", "anyOf"] {
            let members = s.get(key).and_then(Value::as_array).map(Vec::as_slice);
            if members
                .unwrap_or_default()
                .iter()
                .any(|m| is_bounded_number(m) || bounds_left_to_typify(m))
            {
                self.notes.push(format!(
                    "{at}: bounds inside {key} not checked by the client (the service checks them)"
                ));
            }
        }
        if let Some(props) = s.get_mut("properties").and_then(Value::as_object_mut) {
            for (prop, sub) in props.iter_mut() {
                let type_name = format!("{name}{}", rust_type_name(prop));
                self.visit(sub, &type_name, &format!("{at}.{prop}"));
            }
        }
        if let Some(items) = s.get_mut("items") {
            self.visit(items, &format!("{name}Item"), &format!("{at}[]"));
        }
        if let Some(extra) = s.get_mut("additionalProperties")
            && extra.is_object()
        {
            self.visit(extra, &format!("{name}Value"), &format!("{at}.*"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bounded_numbers_are_those_typify_would_not_enforce() {
        for enforced in [
            json!({"type": "integer"}),
            json!({"type": "integer", "minimum": 0}),
            json!({"type": "integer", "minimum": 1}),
            json!({"type": "integer", "minimum": 1, "maximum": 12, "nullable": true}),
            json!({"type": "integer", "maximum": 12, "default": 3}),
            json!({"type": "integer", "enum": [1, 2]}),
            json!({"type": "string", "minLength": 3}),
        ] {
            assert!(!is_bounded_number(&enforced), "{enforced}");
        }
        for checked in [
            json!({"type": "integer", "minimum": 1, "maximum": 12}),
            json!({"type": "integer", "minimum": 2000}),
            json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true}),
            json!({"type": "integer", "minimum": 0, "format": "int32"}),
            json!({"type": "integer", "multipleOf": 5}),
            json!({"type": "number", "minimum": 0}),
        ] {
            assert!(is_bounded_number(&checked), "{checked}");
        }
    }

    #[test]
    fn impossible_bounds_are_named() {
        for (schema, why) in [
            (
                json!({"type": "integer", "minimum": 5, "maximum": 4}),
                "no value",
            ),
            (
                json!({"type": "integer", "minimum": 1.2, "maximum": 1.8}),
                "no value",
            ),
            (
                json!({"type": "integer", "minimum": 1, "maximum": 2, "exclusiveMinimum": true, "exclusiveMaximum": true}),
                "no value",
            ),
            (
                json!({"type": "number", "minimum": 1, "maximum": 1, "exclusiveMaximum": true}),
                "no value",
            ),
            (json!({"type": "integer", "multipleOf": 0}), "multipleOf"),
            (json!({"type": "number", "multipleOf": -0.5}), "multipleOf"),
            (json!({"type": "integer", "multipleOf": "5"}), "multipleOf"),
        ] {
            assert!(
                impossible_bounds(&schema).is_some_and(|w| w.contains(why)),
                "{schema}"
            );
        }
        for fine in [
            json!({"type": "integer", "minimum": 1, "maximum": 1}),
            json!({"type": "integer", "minimum": 1, "maximum": 3, "exclusiveMinimum": true, "exclusiveMaximum": true}),
            json!({"type": "number", "minimum": 0.5, "maximum": 0.5}),
            json!({"type": "number", "multipleOf": 0.01}),
            json!({"type": "string", "minimum": 5, "maximum": 4}),
        ] {
            assert_eq!(impossible_bounds(&fine), None, "{fine}");
        }
        let doc = json!({"components": {"schemas": {"A": {"type": "object", "properties": {
            "n": {"type": "integer", "minimum": 9, "maximum": 1}}}}}});
        assert_eq!(
            find_impossible_bounds(&doc).map(|(at, _)| at).as_deref(),
            Some("/components/schemas/A/properties/n")
        );
    }

    #[test]
    fn inline_bounded_numbers_move_to_named_components() {
        let mut doc = json!({
            "paths": {"/items": {"get": {
                "operationId": "listItems",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                    "type": "array", "items": {"type": "number", "minimum": 0}
                }}}}}
            }}},
            "components": {"schemas": {
                "Card": {"type": "object", "properties": {
                    "expMonth": {"type": "integer", "minimum": 1, "maximum": 12},
                    "count": {"type": "integer", "minimum": 0},
                    "maybe": {"type": "integer", "maximum": 5, "nullable": true},
                    "mixed": {"allOf": [{"type": "integer", "maximum": 5}]}
                }},
                "CardExpMonth": {"type": "string"},
                "Level": {"type": "integer", "minimum": 1, "maximum": 5}
            }}
        });
        let notes = hoist_bounded_numbers(&mut doc);
        assert_eq!(notes.len(), 5, "{notes:?}");
        for unchecked in [
            "schema Card.maybe: bounds not checked by the client (the schema is nullable",
            "schema Card.mixed: bounds inside allOf not checked by the client",
        ] {
            assert!(
                notes.iter().any(|n| n.starts_with(unchecked)),
                "{unchecked}: {notes:?}"
            );
        }
        let schemas = &doc["components"]["schemas"];
        // The derived name was taken: a suffix makes it unique.
        assert_eq!(
            schemas["Card"]["properties"]["expMonth"],
            json!({"$ref": "#/components/schemas/CardExpMonth2"})
        );
        assert_eq!(schemas["CardExpMonth2"]["maximum"], json!(12));
        assert_eq!(
            schemas["Card"]["properties"]["count"],
            json!({"type": "integer", "minimum": 0})
        );
        let op = &doc["paths"]["/items"]["get"];
        assert_eq!(
            op["parameters"][0]["schema"],
            json!({"$ref": "#/components/schemas/ListItemsLimit"})
        );
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["schema"]["items"],
            json!({"$ref": "#/components/schemas/ListItemsResponse200Item"})
        );
        // A named bounded component stays where it is.
        assert_eq!(schemas["Level"]["maximum"], json!(5));
        let mut checked = checked_schemas(&doc);
        checked.sort();
        assert_eq!(
            checked,
            [
                "CardExpMonth2",
                "Level",
                "ListItemsLimit",
                "ListItemsResponse200Item"
            ]
        );
        assert!(
            notes.iter().any(|n| n.starts_with(
                "operation `listItems` (GET /items): parameter limit: bounded number moved"
            )),
            "{notes:?}"
        );
    }
}
