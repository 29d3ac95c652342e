//! The text regen writes: crate scaffolding, the README's service table, the sandbox's spec
//! bundle and the CLI's typed subcommands. Names follow progenitor's conventions
//! (operation and parameter names in snake_case, types in UpperCamelCase), because the CLI
//! code calls the generated builders.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Result;
use heck::{ToKebabCase, ToSnakeCase, ToUpperCamelCase};
use kernel_spec::{Operation, ParameterLocation, ServiceMeta, Spec};
use serde_json::{Value, json};

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// A name as progenitor turns it into a method or parameter identifier.
fn snake_ident(name: &str) -> String {
    let s = name.to_snake_case();
    if RUST_KEYWORDS.contains(&s.as_str()) {
        format!("{s}_")
    } else {
        s
    }
}

fn meta(spec: &Spec) -> &ServiceMeta {
    spec.meta
        .as_ref()
        .expect("policy checked: every spec has x-kernel")
}

fn title(spec: &Spec) -> String {
    spec.doc
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or(&meta(spec).client)
        .to_owned()
}

/// What the CLI and the doc example need to know about a parameter.
struct Param {
    name: String,
    setter: String,
    field: String,
    flag: String,
    rust_type: &'static str,
    example: Option<String>,
    required: bool,
    help: String,
}

fn params(spec: &Spec, op: &Operation) -> Vec<Param> {
    op.parameters
        .iter()
        .map(|p| {
            let schema = match p.schema.get("$ref").and_then(Value::as_str) {
                Some(r) => r
                    .strip_prefix('#')
                    .and_then(|ptr| spec.doc.pointer(ptr))
                    .unwrap_or(&p.schema),
                None => &p.schema,
            };
            let rust_type = match schema.get("type").and_then(Value::as_str) {
                Some("integer") => "i64",
                Some("number") => "f64",
                Some("boolean") => "bool",
                _ => "String",
            };
            let example = p.example.as_ref().map(|e| match (rust_type, e) {
                ("String", Value::String(s)) => format!("{s:?}"),
                ("String", other) => format!("{:?}", other.to_string()),
                (_, Value::String(s)) => s.clone(),
                (_, other) => other.to_string(),
            });
            let location = match p.location {
                ParameterLocation::Path => "path",
                ParameterLocation::Query => "query",
                ParameterLocation::Header => "header",
            };
            let mut help = p.description.clone().unwrap_or_default();
            if !help.is_empty() && !help.ends_with('.') {
                help.push('.');
            }
            write!(
                help,
                " ({location} parameter{})",
                if p.required { ", required" } else { "" }
            )
            .ok();
            Param {
                setter: snake_ident(&p.name),
                field: format!("p_{}", p.name.to_snake_case()),
                flag: p.name.to_kebab_case(),
                name: p.name.clone(),
                rust_type,
                example,
                required: p.required,
                help: help.trim().to_owned(),
            }
        })
        .collect()
}

/// `Cargo.toml`, `build.rs` and `src/lib.rs` of a new service crate.
pub(crate) fn scaffold(name: &str, specs: &[&Spec]) -> Vec<(&'static str, String)> {
    let titles: Vec<String> = specs.iter().map(|s| title(s)).collect();
    let files: Vec<String> = specs
        .iter()
        .map(|s| format!("openapi/{}", s.name))
        .collect();
    let cargo = format!(
        r#"[package]
name = "{name}"
description = "Typed client for {titles}, generated at build time from {files}."
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[dependencies]
kernel-core.workspace = true
progenitor-client.workspace = true
reqwest.workspace = true
serde.workspace = true
serde_json.workspace = true
regress.workspace = true

[build-dependencies]
kernel-codegen.workspace = true

[lints]
workspace = true
"#,
        titles = titles.join(", "),
        files = files.join(", "),
    );
    let build = "//! Generates the typed client from the spec(s) in `../openapi` (see kernel-codegen).\n\nfn main() {\n    kernel_codegen::build_script();\n}\n".to_owned();
    let crate_ident = name.replace('-', "_");
    let mut lib = String::new();
    writeln!(lib, "//! Typed client for {}.", titles.join(", ")).ok();
    writeln!(lib, "//!").ok();
    writeln!(
        lib,
        "//! Generated at build time from {} by kernel-codegen (never checked in). This file",
        files
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
    .ok();
    writeln!(
        lib,
        "//! was scaffolded by `cargo xtask regen`; it is the crate's hand-written face."
    )
    .ok();
    writeln!(lib, "//!").ok();
    for spec in specs {
        let m = meta(spec);
        writeln!(
            lib,
            "//! - [`{}`]: {} (`{}::{}`)",
            m.client,
            title(spec),
            crate_ident,
            m.module
        )
        .ok();
    }
    if let Some(example) = specs.first().and_then(|s| doc_example(&crate_ident, s)) {
        writeln!(lib, "//!").ok();
        writeln!(lib, "//! ```no_run").ok();
        writeln!(
            lib,
            "//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {{"
        )
        .ok();
        writeln!(
            lib,
            "//! let kernel = kernel_core::KernelClient::from_env().await?;"
        )
        .ok();
        for line in example.lines() {
            writeln!(lib, "//! {line}").ok();
        }
        writeln!(lib, "//! # let _ = reply;").ok();
        writeln!(lib, "//! # Ok(()) }}").ok();
        writeln!(lib, "//! ```").ok();
    }
    writeln!(lib).ok();
    writeln!(
        lib,
        "include!(concat!(env!(\"OUT_DIR\"), \"/kernel_services.rs\"));"
    )
    .ok();
    vec![
        ("Cargo.toml", cargo),
        ("build.rs", build),
        ("src/lib.rs", lib),
    ]
}

/// A three-line call of the spec's first operation with its examples.
fn doc_example(crate_ident: &str, spec: &Spec) -> Option<String> {
    let m = meta(spec);
    let op = kernel_spec::operations(&spec.doc).into_iter().next()?;
    // The exact setter types, read from the generated client (as for the CLI).
    let types = setter_types(spec, &format!("{crate_ident}::{}", m.module)).ok()?;
    let mut s = format!(
        "let reply = {crate_ident}::{}::{}::new(&kernel)\n    .{}()\n",
        m.module, m.client, op.method_name
    );
    for p in params(spec, &op) {
        if !p.required {
            continue;
        }
        let example = p.example.clone()?;
        if p.rust_type == "String" {
            writeln!(s, "    .{}({example})", p.setter).ok();
        } else {
            let ty = types.get(&(op.method_name.clone(), p.setter.clone()))?;
            writeln!(
                s,
                "    .{}(serde_json::from_value::<{ty}>(serde_json::json!({example}))?)",
                p.setter
            )
            .ok();
        }
    }
    if op.body.is_some() {
        let ty = types.get(&(op.method_name.clone(), "body".to_owned()))?;
        let example = op.body.as_ref()?.example.as_ref()?;
        writeln!(
            s,
            "    .body(serde_json::from_value::<{ty}>(serde_json::json!({}))?)",
            serde_json::to_string(example).ok()?
        )
        .ok();
    }
    s.push_str("    .send()\n    .await?;");
    Some(s)
}

/// The README's service table.
pub(crate) fn readme_table(specs: &[Spec]) -> Vec<String> {
    let mut out = vec![
        "| service | spec | crate · client | prefix | region in URL | default method | log subsystem | CLI operations |".to_owned(),
        "|---|---|---|---|---|---|---|---|".to_owned(),
    ];
    for spec in specs {
        let m = meta(spec);
        let ops: Vec<String> = kernel_spec::operations(&spec.doc)
            .iter()
            .map(|o| format!("`kernel {} {}`", m.cli, o.method_name.to_kebab_case()))
            .collect();
        out.push(format!(
            "| {} | `openapi/{}` | `{}` · `{}` | `{}` | {} | {} | `{}` | {} |",
            title(spec),
            spec.name,
            m.crate_name,
            m.client,
            m.prefix,
            if m.region_in_url { "yes" } else { "no" },
            m.default_method,
            m.subsystem,
            ops.join(", ")
        ));
    }
    out
}

/// The README's list of normalised and refused constructs.
pub(crate) fn readme_constructs() -> Vec<String> {
    let mut out = vec![
        "| construct | what the pipeline does |".to_owned(),
        "|---|---|".to_owned(),
    ];
    for (construct, action) in kernel_spec::normalise::CONSTRUCTS {
        out.push(format!("| {construct} | {action} |"));
    }
    out
}

/// The sandbox's bundle: every normalised spec with its metadata.
pub(crate) fn sandbox_bundle(specs: &[Spec]) -> Result<String> {
    let bundle: Vec<Value> = specs
        .iter()
        .map(|s| json!({"file": s.name, "meta": s.meta, "doc": s.doc}))
        .collect();
    let mut text = serde_json::to_string_pretty(&bundle)?;
    text.push('\n');
    Ok(text)
}

/// The exact Rust types progenitor's builder setters take for one spec, read from the
/// generated code: `(operation method, setter) → type`, module-qualified where the type
/// is one of the spec's own (`kernel_k3::k3::types::TokenizeRequest`).
fn setter_types(spec: &Spec, module_path: &str) -> Result<BTreeMap<(String, String), String>> {
    let crate_ident = module_path.split("::").next().unwrap_or(module_path);
    let setters = kernel_codegen::setter_types(spec).map_err(|e| anyhow::anyhow!("openapi/{e}"))?;
    Ok(setters
        .into_iter()
        .map(|(builder, setter, ty)| {
            let text: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
            (
                (builder.to_snake_case(), setter),
                qualify(&text, module_path, crate_ident),
            )
        })
        .collect())
}

/// Qualifies the generated code's relative paths in a setter type (whitespace removed) so
/// that it names the same type from the CLI crate: progenitor names the spec's types
/// `types::X`, kernel-codegen's checked types are `crate::<module>::checked::X`. Every
/// path is rewritten, not only the outermost: `::std::vec::Vec<types::Field>` too.
fn qualify(ty: &str, module_path: &str, crate_ident: &str) -> String {
    let mut out = String::with_capacity(ty.len() + 32);
    let mut rest = ty;
    while !rest.is_empty() {
        // A path starts where the previous character is not part of a path
        // (identifier character or `:`).
        let at_path_start = out
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'));
        if at_path_start && let Some(tail) = rest.strip_prefix("types::") {
            out.push_str(module_path);
            out.push_str("::types::");
            rest = tail;
        } else if at_path_start && let Some(tail) = rest.strip_prefix("crate::") {
            out.push_str(crate_ident);
            out.push_str("::");
            rest = tail;
        } else {
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            rest = chars.as_str();
        }
    }
    out
}

/// Flags the CLI itself uses: a parameter with one of these names gets `--<name>-param`.
const RESERVED_FLAGS: &[&str] = &[
    "partner",
    "stage",
    "sandbox",
    "dry-run",
    "verbose",
    "show-error-body",
    "example",
    "body",
    "help",
    "version",
];

/// The CLI's typed subcommands (`kernel-cli/src/typed.rs`), before rustfmt.
pub(crate) fn cli_commands(specs: &[Spec]) -> Result<String> {
    let mut enums = String::new();
    let mut structs = String::new();
    let mut arms = String::new();
    let mut services = String::new();
    for spec in specs {
        let m = meta(spec);
        let krate = m.crate_name.replace('-', "_");
        let module = format!("{krate}::{}", m.module);
        let types = setter_types(spec, &module)?;
        let service_variant = m.cli.to_upper_camel_case();
        let cmd_enum = format!("{service_variant}Command");
        let title = title(spec);
        writeln!(
            services,
            "    /// {title}: one subcommand per operation of `openapi/{file}`; `kernel {cli} '<ENDPOINT>' [CALL FLAGS]` makes a raw call.\n    #[command(name = \"{cli}\", subcommand)]\n    {service_variant}({cmd_enum}),",
            file = spec.name,
            cli = m.cli
        )?;
        writeln!(
            enums,
            "/// Operations of `openapi/{}`.\n#[derive(Debug, Subcommand)]\npub(crate) enum {cmd_enum} {{",
            spec.name
        )?;
        writeln!(
            arms,
            "        ServiceCommand::{service_variant}(c) => match c {{"
        )?;
        writeln!(
            arms,
            "            {cmd_enum}::Raw(args) => crate::typed_support::raw(global, {module}::SERVICE, args).await,"
        )?;
        for op in kernel_spec::operations(&spec.doc) {
            let variant = op.method_name.to_upper_camel_case();
            let args_struct = format!("{service_variant}{variant}Args");
            let summary = op
                .summary
                .clone()
                .unwrap_or_else(|| format!("{} {}", op.method, op.path));
            let mut command = op.method_name.to_kebab_case();
            if command == "help" {
                command = "help-operation".into(); // `help` is clap's
            }
            writeln!(
                enums,
                "    /// {summary}\n    #[command(name = \"{command}\")]\n    {variant}({args_struct}),"
            )?;
            let ps = params(spec, &op);
            writeln!(
                structs,
                "/// `kernel {} {command}`.\n#[derive(Debug, Args)]\npub(crate) struct {args_struct} {{",
                m.cli
            )?;
            for p in &ps {
                let required = if p.required {
                    ", required_unless_present = \"example\""
                } else {
                    ""
                };
                let flag = if RESERVED_FLAGS.contains(&p.flag.as_str()) {
                    format!("{}-param", p.flag)
                } else {
                    p.flag.clone()
                };
                writeln!(
                    structs,
                    "    /// {}\n    #[arg(long = \"{flag}\", value_name = \"{}\"{required})]\n    {}: Option<String>,",
                    p.help,
                    p.name.to_uppercase().replace('-', "_"),
                    p.field,
                )?;
            }
            let body = if op.body.is_some() {
                let key = (op.method_name.clone(), "body".to_owned());
                Some(types.get(&key).cloned().ok_or_else(|| {
                    anyhow::anyhow!(
                        "openapi/{}: {}: no typed body setter in the generated client",
                        spec.name,
                        op.label()
                    )
                })?)
            } else {
                None
            };
            if body.is_some() {
                writeln!(
                    structs,
                    "    /// The JSON body: inline, `@file`, or `@-` for stdin (prefer a file or stdin for card data: command lines are visible to other users).\n    #[arg(long = \"body\", value_name = \"JSON|@FILE\", required_unless_present = \"example\")]\n    body: Option<String>,"
                )?;
            }
            writeln!(
                structs,
                "    /// Use the spec's example for every value not given (with --sandbox or --dry-run only: examples hold test card data).\n    #[arg(long)]\n    example: bool,\n}}\n"
            )?;
            writeln!(arms, "            {cmd_enum}::{variant}(a) => {{")?;
            let mut_b = if ps.is_empty() && op.body.is_none() {
                ""
            } else {
                "mut "
            };
            let mut_given = if ps.is_empty() { "" } else { "mut " };
            writeln!(
                arms,
                "                let session = Session::open(global, {module}::SERVICE, a.example).await?;\n                let client = {module}::{}::from_context(session.context());\n                let {mut_b}b = client.{}();\n                let {mut_given}given: Vec<(&str, String)> = Vec::new();",
                m.client, op.method_name
            )?;
            for p in &ps {
                let ty = types
                    .get(&(op.method_name.clone(), p.setter.clone()))
                    .cloned()
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "openapi/{}: {}: parameter {}: no setter `{}` in the generated client",
                            spec.name,
                            op.label(),
                            p.name,
                            p.setter
                        )
                    })?;
                let example = match &p.example {
                    Some(e) if p.rust_type == "String" => format!("Some({e}.to_owned())"),
                    Some(e) => format!("Some({:?}.to_owned())", e.trim_matches('"')),
                    None => "None".to_owned(),
                };
                writeln!(
                    arms,
                    "                if let Some(v) = param(a.{field}, a.example, {example}) {{\n                    given.push(({name:?}, v));\n                }}",
                    field = p.field,
                    name = p.name,
                )?;
                let _ = ty;
            }
            let body_value = if body.is_some() {
                let example = op
                    .body
                    .as_ref()
                    .and_then(|b| b.example.as_ref())
                    .map(serde_json::to_string)
                    .transpose()?;
                let example = match example {
                    Some(e) => format!("Some({e:?})"),
                    None => "None".to_owned(),
                };
                writeln!(
                    arms,
                    "                let body_value = body_json(a.body.as_deref(), a.example, {example})?;"
                )?;
                "body_value.as_ref()"
            } else {
                "None"
            };
            writeln!(
                arms,
                "                check({module}::SERVICE.prefix, {:?}, &given, {body_value})?;",
                op.id
            )?;
            for p in &ps {
                let ty = &types[&(op.method_name.clone(), p.setter.clone())];
                writeln!(
                    arms,
                    "                if let Some((_, v)) = given.iter().find(|(n, _)| *n == {name:?}) {{\n                    b = b.{setter}(convert::<{ty}>(v, {name:?})?);\n                }}",
                    name = p.name,
                    setter = p.setter,
                )?;
            }
            if let Some(ty) = &body {
                writeln!(
                    arms,
                    "                if let Some(v) = &body_value {{\n                    b = b.body(convert_body::<{ty}>(v)?);\n                }}"
                )?;
            }
            writeln!(
                arms,
                "                session.finish(b.send().await).await\n            }}"
            )?;
        }
        writeln!(
            enums,
            "    /// A raw call with the service's defaults: `kernel {} '<ENDPOINT>' [-X METHOD] [-d JSON|@FILE] [-H 'Name: value'] ...`.\n    #[command(external_subcommand)]\n    Raw(Vec<String>),\n}}\n",
            m.cli
        )?;
        writeln!(arms, "        }},")?;
    }
    Ok(format!(
        "// @generated by `cargo xtask regen` from openapi/*; do not edit.\n\
//! Typed subcommands: one per operation of every spec in `openapi/`, calling the generated\n\
//! clients. Regenerate with `cargo xtask regen`.\n\n\
use clap::{{Args, Subcommand}};\n\n\
use crate::args::GlobalArgs;\n\
use crate::failure::Failure;\n\
use crate::typed_support::{{Session, body_json, check, convert, convert_body, param}};\n\n\
/// One subcommand per service.\n\
#[derive(Debug, Subcommand)]\n\
pub(crate) enum ServiceCommand {{\n{services}}}\n\n\
{enums}\n{structs}\n\
/// Runs a typed subcommand.\n\
pub(crate) async fn run(global: &GlobalArgs, command: ServiceCommand) -> Result<(), Failure> {{\n\
    match command {{\n{arms}    }}\n}}\n"
    ))
}

#[cfg(test)]
mod qualify_tests {
    use super::qualify;

    #[test]
    fn every_relative_path_is_qualified() {
        let m = "kernel_risk::risk";
        assert_eq!(
            qualify("types::Field", m, "kernel_risk"),
            "kernel_risk::risk::types::Field"
        );
        assert_eq!(
            qualify("::std::vec::Vec<types::Field>", m, "kernel_risk"),
            "::std::vec::Vec<kernel_risk::risk::types::Field>"
        );
        assert_eq!(
            qualify(
                "::std::option::Option<crate::risk::checked::Amount>",
                m,
                "kernel_risk"
            ),
            "::std::option::Option<kernel_risk::risk::checked::Amount>"
        );
        // Paths that merely end in `types` or `crate` are left alone.
        assert_eq!(qualify("my_types::X", m, "kernel_risk"), "my_types::X");
        assert_eq!(qualify("a::types::X", m, "kernel_risk"), "a::types::X");
        assert_eq!(
            qualify("::std::string::String", m, "kernel_risk"),
            "::std::string::String"
        );
    }
}
