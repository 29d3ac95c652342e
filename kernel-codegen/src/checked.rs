//! The newtypes kernel-codegen writes itself, in place of typify's, for three kinds of
//! component schema:
//! - `x-kernel-sensitive: true` (card number, CVV, wallet token, …): validates the same
//!   constraints but never shows its value: `Debug` prints `CardNumber(<redacted>)`, there
//!   is no `Display`, and validation messages name the rule only. Reading the value is
//!   explicit: `expose()`.
//! - a kernel format (`format: aba-routing-number`): validates the constraints *and* the
//!   checksum (typify knows nothing of such formats), with typify's API (`Deref` to
//!   `String`, `Display`).
//! - an integer or number with bounds typify's type would not enforce (`maximum`,
//!   `minimum: 2000`, `multipleOf`, …): `i64` or `f64` inside, checked when built from any
//!   integer type (so `.size(5)` works in a builder), `Deref` to the number, `Display`.
//!
//! Which schemas qualify is kernel-spec's decision ([`kernel_spec::checked`]).

use kernel_spec::SpecError;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

pub(crate) use kernel_spec::checked::checked_schemas;
use kernel_spec::checked::{is_bounded_number, is_sensitive, kernel_format};

/// The check a kernel format adds, calling kernel-core's implementation.
fn format_check(
    spec: &str,
    name: &str,
    format: &str,
    label: &str,
) -> Result<TokenStream, SpecError> {
    let (function, rule) = match format {
        kernel_spec::formats::ABA_ROUTING_NUMBER => (
            quote!(::kernel_core::formats::is_aba_routing_number),
            "not an ABA routing number (checksum)",
        ),
        other => {
            return Err(SpecError {
                spec: spec.to_owned(),
                operation: None,
                construct: format!("schema {name}"),
                why: format!(
                    "format {other} is known to kernel-spec but not to kernel-codegen (a generator bug)"
                ),
            });
        }
    };
    let msg = format!("{label}: {rule}");
    Ok(quote! { if !#function(value) { return Err(#msg); } })
}

pub(crate) fn newtypes(spec: &str, doc: &Value) -> Result<TokenStream, SpecError> {
    let mut out = TokenStream::new();
    let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return Ok(out);
    };
    for name in checked_schemas(doc) {
        let schema = &schemas[&name];
        if is_bounded_number(schema) {
            out.extend(numeric_newtype(&name, schema));
            continue;
        }
        if schema.get("type").and_then(Value::as_str) != Some("string") {
            return Err(SpecError {
                spec: spec.to_owned(),
                operation: None,
                construct: format!("schema {name}"),
                why: "x-kernel-sensitive and kernel formats are supported on `type: string` schemas only".into(),
            });
        }
        let sensitive = is_sensitive(schema);
        let ident = format_ident!("{}", kernel_spec::normalise::rust_type_name(&name));
        let label = ident.to_string();
        let description = schema.get("description").and_then(Value::as_str);
        let format = match kernel_format(schema) {
            Some(f) => Some(format_check(spec, &name, f, &label)?),
            None => None,
        };
        let min = schema.get("minLength").and_then(Value::as_u64).map(|n| {
            let msg = format!("{label}: shorter than {n} character(s)");
            quote! { if value.chars().count() < #n as usize { return Err(#msg); } }
        });
        let max = schema.get("maxLength").and_then(Value::as_u64).map(|n| {
            let msg = format!("{label}: longer than {n} character(s)");
            quote! { if value.chars().count() > #n as usize { return Err(#msg); } }
        });
        let allowed = schema.get("enum").and_then(Value::as_array).map(|values| {
            let values: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            let msg = format!("{label}: not one of the spec's values");
            quote! {
                const ALLOWED: &[&str] = &[#(#values),*];
                if !ALLOWED.contains(&value) { return Err(#msg); }
            }
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
        let common = quote! {
            impl #ident {
                /// Checks the schema's constraints; the error names the rule, not the value.
                pub fn new(value: impl Into<String>) -> Result<Self, &'static str> {
                    let value: String = value.into();
                    Self::check(&value)?;
                    Ok(Self(value))
                }
                #[allow(unused_variables)] // a schema may have no constraint but its type
                fn check(value: &str) -> Result<(), &'static str> {
                    #min
                    #max
                    #pattern
                    #allowed
                    #format
                    Ok(())
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
        };
        if sensitive {
            let redacted = format!("{label}(<redacted>)");
            let doc_text = format!(
                "{}\n\nSensitive: `Debug` is redacted and there is no `Display`; use `expose()` to read it.",
                description.unwrap_or("A sensitive value.")
            );
            out.extend(quote! {
                #[doc = #doc_text]
                #[derive(Clone, PartialEq, Eq, Hash, ::serde::Serialize)]
                #[serde(transparent)]
                pub struct #ident(String);

                #common

                impl #ident {
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
            });
        } else {
            let doc_text = format!(
                "{}\n\nChecked when built (constraints and `format: {}`); reads as a `String`.",
                description.unwrap_or(&format!("`{name}`")),
                kernel_format(schema).unwrap_or_default()
            );
            out.extend(quote! {
                #[doc = #doc_text]
                #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize)]
                #[serde(transparent)]
                pub struct #ident(String);

                #common

                impl ::std::ops::Deref for #ident {
                    type Target = String;
                    fn deref(&self) -> &String {
                        &self.0
                    }
                }
                impl ::std::convert::From<#ident> for String {
                    fn from(value: #ident) -> Self {
                        value.0
                    }
                }
                impl ::std::fmt::Display for #ident {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(&self.0)
                    }
                }
            });
        }
    }
    Ok(out)
}

/// The newtype of a bounded integer (`i64` inside) or number (`f64`, finite).
fn numeric_newtype(name: &str, schema: &Value) -> TokenStream {
    let ident = format_ident!("{}", kernel_spec::normalise::rust_type_name(name));
    let label = ident.to_string();
    let integer = schema.get("type").and_then(Value::as_str) == Some("integer");
    let flag = |k: &str| schema.get(k).and_then(Value::as_bool) == Some(true);
    let number = |k: &str| schema.get(k).and_then(Value::as_f64);
    let mut checks = TokenStream::new();
    // Integers compare as i128 against the integer bound the spec's bound implies
    // (`minimum: 1.5` → at least 2); numbers compare as f64.
    let value = if integer {
        quote!(i128::from(value))
    } else {
        quote!(value)
    };
    // An integer bound written as an integer is used exactly (f64 would round
    // 9007199254740993); a fractional one is rounded towards the allowed side.
    let literal = |key: &str, round: fn(f64) -> f64| -> Option<TokenStream> {
        let written = schema.get(key)?;
        let v = written.as_f64()?;
        Some(if integer {
            let exact = written
                .as_i64()
                .map(i128::from)
                .or_else(|| written.as_u64().map(i128::from))
                .unwrap_or(round(v) as i128);
            quote!(#exact)
        } else {
            quote!(#v)
        })
    };
    // Messages quote the bound as the spec wrote it.
    let written = |key: &str| schema.get(key).map(ToString::to_string).unwrap_or_default();
    let (exclusive_min, exclusive_max) = (flag("exclusiveMinimum"), flag("exclusiveMaximum"));
    if let Some(b) = literal(
        "minimum",
        if exclusive_min { f64::floor } else { f64::ceil },
    ) {
        let (refused, msg) = if exclusive_min {
            (
                quote!(#value <= #b),
                format!("{label}: must be above {}", written("minimum")),
            )
        } else {
            (
                quote!(#value < #b),
                format!("{label}: below the minimum {}", written("minimum")),
            )
        };
        checks.extend(quote! { if #refused { return Err(#msg); } });
    }
    if let Some(b) = literal(
        "maximum",
        if exclusive_max { f64::ceil } else { f64::floor },
    ) {
        let (refused, msg) = if exclusive_max {
            (
                quote!(#value >= #b),
                format!("{label}: must be below {}", written("maximum")),
            )
        } else {
            (
                quote!(#value > #b),
                format!("{label}: above the maximum {}", written("maximum")),
            )
        };
        checks.extend(quote! { if #refused { return Err(#msg); } });
    }
    // A sized integer format (typify would have used i32, u8, …) keeps its range.
    let format_range: Option<(i128, i128)> = match schema.get("format").and_then(Value::as_str) {
        Some("int8") => Some((i8::MIN.into(), i8::MAX.into())),
        Some("int16") => Some((i16::MIN.into(), i16::MAX.into())),
        Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
        Some("uint8") => Some((0, u8::MAX.into())),
        Some("uint16") => Some((0, u16::MAX.into())),
        Some("uint32") => Some((0, u32::MAX.into())),
        Some("uint64") => Some((0, i64::MAX.into())),
        _ => None,
    };
    if integer && let Some((low, high)) = format_range {
        let msg = format!(
            "{label}: out of the {} range",
            schema
                .get("format")
                .and_then(Value::as_str)
                .unwrap_or_default()
        );
        checks.extend(quote! { if #value < #low || #value > #high { return Err(#msg); } });
    }
    // multipleOf > 0 is guaranteed by normalisation. An integral one on an integer is
    // exact; otherwise the quotient must be within rounding error of an integer (relative
    // tolerance, as kernel-spec's validator: `0.1 * 3` is a multiple of 0.1).
    if let Some(m) = number("multipleOf") {
        let msg = format!("{label}: not a multiple of {m}");
        if integer && m.fract() == 0.0 {
            let m = m as i128;
            checks.extend(quote! { if #value % #m != 0 { return Err(#msg); } });
        } else {
            let as_float = if integer {
                quote!(value as f64)
            } else {
                quote!(value)
            };
            checks.extend(quote! {
                let quotient = #as_float / #m;
                if (quotient - quotient.round()).abs() > 1e-9 * quotient.abs().max(1.0) {
                    return Err(#msg);
                }
            });
        }
    }
    let described = schema
        .get("description")
        .and_then(Value::as_str)
        .map(|d| format!("{d}\n\n"))
        .unwrap_or_default();
    let (inner, derives, guard, doc, parse_error) = if integer {
        (
            quote!(i64),
            quote!(
                Clone,
                Copy,
                Debug,
                PartialEq,
                Eq,
                PartialOrd,
                Ord,
                Hash,
                ::serde::Serialize
            ),
            TokenStream::new(),
            format!(
                "{described}`{name}`: an integer checked against the spec's bounds when built (`new`, `TryFrom` any integer type, `FromStr`, deserialising)."
            ),
            format!("{label}: not an integer"),
        )
    } else {
        let not_finite = format!("{label}: not a finite number");
        (
            quote!(f64),
            quote!(
                Clone,
                Copy,
                Debug,
                PartialEq,
                PartialOrd,
                ::serde::Serialize
            ),
            quote! { if !value.is_finite() { return Err(#not_finite); } },
            format!(
                "{described}`{name}`: a finite number checked against the spec's bounds when built (`new`, `TryFrom` `f64`/`f32`/`i32`/`u32`, `FromStr`, deserialising)."
            ),
            format!("{label}: not a number"),
        )
    };
    // Conversions that cannot lose the value, and (integers only) those that can: the
    // latter refuse what does not fit in i64. Every integer type has one, so an untyped
    // literal in a builder (`.limit(5)`, an `i32`) converts.
    let (lossless, fallible) = if integer {
        (
            vec![
                quote!(i8),
                quote!(i16),
                quote!(i32),
                quote!(u8),
                quote!(u16),
                quote!(u32),
            ],
            vec![
                quote!(u64),
                quote!(i128),
                quote!(u128),
                quote!(isize),
                quote!(usize),
            ],
        )
    } else {
        (vec![quote!(f32), quote!(i32), quote!(u32)], vec![])
    };
    let out_of_range = format!("{label}: out of range");
    quote! {
        #[doc = #doc]
        #[derive(#derives)]
        #[serde(transparent)]
        pub struct #ident(#inner);

        impl #ident {
            /// Checks the schema's bounds; the error names the rule.
            pub fn new(value: #inner) -> Result<Self, &'static str> {
                #guard
                Self::check(value)?;
                Ok(Self(value))
            }
            #[allow(unused_variables)]
            fn check(value: #inner) -> Result<(), &'static str> {
                #checks
                Ok(())
            }
            /// The value.
            pub fn get(self) -> #inner {
                self.0
            }
        }
        impl ::std::ops::Deref for #ident {
            type Target = #inner;
            fn deref(&self) -> &#inner { &self.0 }
        }
        impl ::std::convert::From<#ident> for #inner {
            fn from(value: #ident) -> Self { value.0 }
        }
        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }
        impl ::std::convert::TryFrom<#inner> for #ident {
            type Error = &'static str;
            fn try_from(value: #inner) -> Result<Self, &'static str> { Self::new(value) }
        }
        #(
            impl ::std::convert::TryFrom<#lossless> for #ident {
                type Error = &'static str;
                fn try_from(value: #lossless) -> Result<Self, &'static str> { Self::new(#inner::from(value)) }
            }
        )*
        #(
            impl ::std::convert::TryFrom<#fallible> for #ident {
                type Error = &'static str;
                fn try_from(value: #fallible) -> Result<Self, &'static str> {
                    Self::new(#inner::try_from(value).map_err(|_| #out_of_range)?)
                }
            }
        )*
        impl ::std::str::FromStr for #ident {
            type Err = &'static str;
            fn from_str(value: &str) -> Result<Self, &'static str> {
                Self::new(value.parse::<#inner>().map_err(|_| #parse_error)?)
            }
        }
        impl ::std::convert::TryFrom<&str> for #ident {
            type Error = &'static str;
            fn try_from(value: &str) -> Result<Self, &'static str> { value.parse() }
        }
        impl ::std::convert::TryFrom<String> for #ident {
            type Error = &'static str;
            fn try_from(value: String) -> Result<Self, &'static str> { value.parse() }
        }
        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::new(#inner::deserialize(d)?).map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }
    }
}
