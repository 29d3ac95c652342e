//! Reading spec files. YAML is parsed into `serde_norway::Value` and converted by hand, so
//! that mapping keys that YAML reads as integers (`200:` inside an
//! `x-amazon-apigateway-integration`) become strings instead of failing the whole document.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::SpecError;
use crate::meta::ServiceMeta;
use crate::normalise::{Rewrite, normalise};

/// One loaded, normalised spec.
#[derive(Debug, Clone)]
pub struct Spec {
    /// File name, e.g. `binlookup.yaml` (used in every error message).
    pub name: String,
    /// Where it was read from (None for in-memory specs).
    pub path: Option<PathBuf>,
    /// The normalised document.
    pub doc: Value,
    /// The document as written (policy checks look at API Gateway extensions in it).
    pub raw: Value,
    /// The `x-kernel` metadata, when present (policy requires it for `openapi/`).
    pub meta: Option<ServiceMeta>,
    /// What normalisation changed, for the spec's owners.
    pub rewrites: Vec<Rewrite>,
}

/// Reads, normalises and (for metadata) parses one document from text.
pub fn load_str(name: &str, text: &str) -> Result<Spec, SpecError> {
    let raw = parse_text(name, text)?;
    let mut doc = raw.clone();
    let rewrites = normalise(name, &mut doc)?;
    let meta = ServiceMeta::from_doc(name, &doc)?;
    Ok(Spec {
        name: name.to_owned(),
        path: None,
        doc,
        raw,
        meta,
        rewrites,
    })
}

/// [`load_str`] on a file.
pub fn load_file(path: &Path) -> Result<Spec, SpecError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let text = std::fs::read_to_string(path)
        .map_err(|e| SpecError::new(&name, "file", format!("cannot read it: {e}")))?;
    let mut spec = load_str(&name, &text)?;
    spec.path = Some(path.to_owned());
    Ok(spec)
}

/// Every `*.yaml`, `*.yml` and `*.json` file directly in `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<Spec>, SpecError> {
    let label = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| SpecError::new(&label, "directory", format!("cannot list it: {e}")))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
        })
        .collect();
    paths.sort();
    paths.iter().map(|p| load_file(p)).collect()
}

/// YAML or JSON text → JSON value (JSON is a subset of YAML, so one parser does both).
pub fn parse_text(name: &str, text: &str) -> Result<Value, SpecError> {
    let yaml: serde_norway::Value = serde_norway::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
            .unwrap_or_default();
        // Syntax errors only (parsing into an untyped value), so the message quotes no data.
        let what = e.to_string();
        let what = what
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned();
        SpecError::new(
            name,
            "document",
            format!("not valid YAML or JSON{at}: {what}"),
        )
    })?;
    yaml_to_json(name, yaml)
}

fn yaml_to_json(name: &str, v: serde_norway::Value) -> Result<Value, SpecError> {
    use serde_norway::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| {
                        SpecError::new(name, "document", "a number is not finite (.nan/.inf)")
                    })?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(|i| yaml_to_json(name, i))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".to_owned(),
                    _ => {
                        return Err(SpecError::new(
                            name,
                            "document",
                            "a mapping key is itself a list or a mapping",
                        ));
                    }
                };
                out.insert(key, yaml_to_json(name, v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(name, t.value)?,
    })
}
