//! `x-kernel-sensitive: true` on a string schema (card number, CVV, wallet token, …)
//! replaces typify's newtype with one that validates the same constraints but never shows
//! its value: `Debug` prints `CardNumber(<redacted>)`, there is no `Display`, and
//! validation messages name the rule only. Reading the value is explicit: `expose()`.

use kernel_spec::SpecError;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

/// Names of the component schemas marked sensitive.
pub(crate) fn sensitive_schemas(doc: &Value) -> Vec<String> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(_, s)| s.get("x-kernel-sensitive").and_then(Value::as_bool) == Some(true))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn newtypes(spec: &str, doc: &Value) -> Result<TokenStream, SpecError> {
    let mut out = TokenStream::new();
    let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return Ok(out);
    };
    for name in sensitive_schemas(doc) {
        let schema = &schemas[&name];
        if schema.get("type").and_then(Value::as_str) != Some("string") {
            return Err(SpecError {
                spec: spec.to_owned(),
                operation: None,
                construct: format!("schema {name}"),
                why: "x-kernel-sensitive is supported on `type: string` schemas only".into(),
            });
        }
        let ident = format_ident!("{}", kernel_spec::normalise::rust_type_name(&name));
        let label = ident.to_string();
        let redacted = format!("{label}(<redacted>)");
        let doc_text = schema
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("A sensitive value.");
        let doc_text = format!(
            "{doc_text}\n\nSensitive: `Debug` is redacted and there is no `Display`; use `expose()` to read it."
        );
        let min = schema.get("minLength").and_then(Value::as_u64).map(|n| {
            let msg = format!("{label}: shorter than {n} character(s)");
            quote! { if value.chars().count() < #n as usize { return Err(#msg); } }
        });
        let max = schema.get("maxLength").and_then(Value::as_u64).map(|n| {
            let msg = format!("{label}: longer than {n} character(s)");
            quote! { if value.chars().count() > #n as usize { return Err(#msg); } }
        });
        let pattern = match schema.get("pattern").and_then(Value::as_str) {
            Some(p) => {
                if regress::Regex::new(p).is_err() {
                    return Err(SpecError {
                        spec: spec.to_owned(),
                        operation: None,
                        construct: format!("schema {name}"),
                        why: "pattern is not a valid ECMA-262 regular expression".into(),
                    });
                }
                let msg = format!("{label}: does not match {p}");
                Some(quote! {
                    static PATTERN: ::std::sync::LazyLock<::regress::Regex> =
                        ::std::sync::LazyLock::new(|| ::regress::Regex::new(#p).expect("checked by kernel-codegen"));
                    if PATTERN.find(value).is_none() { return Err(#msg); }
                })
            }
            None => None,
        };
        out.extend(quote! {
            #[doc = #doc_text]
            #[derive(Clone, PartialEq, Eq, Hash, ::serde::Serialize)]
            #[serde(transparent)]
            pub struct #ident(String);

            impl #ident {
                /// Checks the schema's constraints; the error names the rule, not the value.
                pub fn new(value: impl Into<String>) -> Result<Self, &'static str> {
                    let value: String = value.into();
                    Self::check(&value)?;
                    Ok(Self(value))
                }
                fn check(value: &str) -> Result<(), &'static str> {
                    #min
                    #max
                    #pattern
                    Ok(())
                }
                /// The value. Do not log it.
                pub fn expose(&self) -> &str {
                    &self.0
                }
            }

            impl ::std::fmt::Debug for #ident {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.write_str(#redacted)
                }
            }

            impl ::std::convert::TryFrom<&str> for #ident {
                type Error = &'static str;
                fn try_from(value: &str) -> Result<Self, &'static str> { Self::new(value) }
            }
            impl ::std::convert::TryFrom<&String> for #ident {
                type Error = &'static str;
                fn try_from(value: &String) -> Result<Self, &'static str> { Self::new(value.as_str()) }
            }
            impl ::std::convert::TryFrom<String> for #ident {
                type Error = &'static str;
                fn try_from(value: String) -> Result<Self, &'static str> { Self::new(value) }
            }
            impl ::std::str::FromStr for #ident {
                type Err = &'static str;
                fn from_str(value: &str) -> Result<Self, &'static str> { Self::new(value) }
            }
            impl<'de> ::serde::Deserialize<'de> for #ident {
                fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    let s = String::deserialize(d)?;
                    Self::new(s).map_err(<D::Error as ::serde::de::Error>::custom)
                }
            }
        });
    }
    Ok(out)
}
