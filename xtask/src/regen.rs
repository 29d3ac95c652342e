//! `cargo xtask regen [--check]`: everything checked in that derives from `openapi/`.
//!
//! 1. Load every spec (kernel-spec): parse, normalise (the rewrites are printed for the
//!    spec's owners), check the policy (metadata, server URL, SigV4 scheme, error shape,
//!    a valid example for every request and response) and cross-spec uniqueness.
//! 2. Generate every client in memory (kernel-codegen), so that a spec progenitor cannot
//!    handle fails here, with one readable line, rather than in a build script.
//! 3. Compute the derived files:
//!    - the workspace members and dependencies of the service crates (root `Cargo.toml`,
//!      between `BEGIN/END service crates` markers);
//!    - a new crate's scaffolding (`Cargo.toml`, `build.rs`, `src/lib.rs`), only when the
//!      crate does not exist yet: from then on `src/lib.rs` is the crate's hand-written face;
//!    - the service table in `README.md`;
//!    - the sandbox's bundle of normalised specs (`kernel-sandbox/src/specs.generated.json`),
//!      from which it serves and validates every operation and answers examples;
//!    - the CLI's typed subcommands (`kernel-cli/src/typed.rs`) and its dependencies.
//! 4. Write what changed and say so; with `--check`, write nothing and fail with a diff
//!    when anything is stale.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use kernel_spec::{ServiceMeta, Spec};

use crate::templates;

/// A file regen owns (fully or in marked blocks), with the content it should have.
struct Planned {
    path: PathBuf,
    content: String,
    /// Scaffolding: created when missing, never rewritten.
    create_only: bool,
}

/// Runs regen in `root`. Returns whether everything was (or now is) up to date.
pub(crate) fn regen(root: &Path, check: bool) -> Result<bool> {
    let specs = load(root)?;
    let planned = plan(root, &specs)?;
    warn_orphans(root, &specs);
    let mut stale = Vec::new();
    for p in &planned {
        let current = std::fs::read_to_string(&p.path).ok();
        let rel = p
            .path
            .strip_prefix(root)
            .unwrap_or(&p.path)
            .display()
            .to_string();
        match (&current, p.create_only) {
            (Some(_), true) => continue,
            (Some(c), false) if *c == p.content => continue,
            _ => {}
        }
        if check {
            println!("stale: {rel}");
            print!(
                "{}",
                diff(current.as_deref().unwrap_or(""), &p.content, &rel)
            );
            stale.push(rel);
        } else {
            if let Some(dir) = p.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&p.path, &p.content)?;
            println!(
                "{}: {rel}",
                if current.is_some() {
                    "updated"
                } else {
                    "created"
                }
            );
        }
    }
    if check {
        if stale.is_empty() {
            println!(
                "regen --check: {} spec(s), everything derived from them is up to date",
                specs.len()
            );
            Ok(true)
        } else {
            println!(
                "regen --check: {} file(s) stale; run `cargo xtask regen`",
                stale.len()
            );
            Ok(false)
        }
    } else {
        if stale.is_empty() {
            println!(
                "regen: {} spec(s); {} derived file(s) checked",
                specs.len(),
                planned.len()
            );
        }
        Ok(true)
    }
}

fn load(root: &Path) -> Result<Vec<Spec>> {
    let dir = root.join("openapi");
    let specs = match kernel_spec::load_dir(&dir) {
        Ok(s) => s,
        Err(e) if e.construct == "directory" => bail!("{e}"),
        Err(e) => bail!("openapi/{e}"),
    };
    if specs.is_empty() {
        bail!("no spec in {}", dir.display());
    }
    let mut problems: Vec<String> = Vec::new();
    for spec in &specs {
        for r in &spec.rewrites {
            println!("normalised openapi/{}: {r}", spec.name);
        }
        problems.extend(
            kernel_spec::policy::check(spec)
                .iter()
                .map(|p| format!("openapi/{p}")),
        );
    }
    let metas: Vec<(&Spec, &ServiceMeta)> = specs
        .iter()
        .filter_map(|s| s.meta.as_ref().map(|m| (s, m)))
        .collect();
    for (what, key) in [
        (
            "prefix",
            (|m: &ServiceMeta| m.prefix.clone()) as fn(&ServiceMeta) -> String,
        ),
        ("client", |m| format!("{}::{}", m.crate_name, m.client)),
        ("module", |m| format!("{}::{}", m.crate_name, m.module)),
        ("cli", |m| m.cli.clone()),
    ] {
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for (spec, meta) in &metas {
            if let Some(other) = seen.insert(key(meta), &spec.name) {
                problems.push(format!(
                    "openapi/{}: x-kernel.{what}: also used by openapi/{other}; it must be unique",
                    spec.name
                ));
            }
        }
    }
    for (spec, meta) in &metas {
        if matches!(meta.cli.as_str(), "call" | "demo" | "help") {
            problems.push(format!(
                "openapi/{}: x-kernel.cli: `{}` is one of the CLI's own commands",
                spec.name, meta.cli
            ));
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} problem(s) in the specs:\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    for spec in &specs {
        if let Err(e) = kernel_codegen::generate(spec) {
            bail!("openapi/{e}");
        }
    }
    Ok(specs)
}

fn plan(root: &Path, specs: &[Spec]) -> Result<Vec<Planned>> {
    let mut by_crate: BTreeMap<String, Vec<&Spec>> = BTreeMap::new();
    for s in specs {
        if let Some(m) = &s.meta {
            by_crate.entry(m.crate_name.clone()).or_default().push(s);
        }
    }
    let crates: Vec<String> = by_crate.keys().cloned().collect();
    let mut out = Vec::new();

    // Root Cargo.toml: members and workspace dependencies.
    let cargo_path = root.join("Cargo.toml");
    let cargo = std::fs::read_to_string(&cargo_path)?;
    let members: Vec<String> = crates.iter().map(|c| format!("    \"{c}\",")).collect();
    let cargo = replace_block(
        &cargo,
        "    # BEGIN service crates",
        "    # END service crates",
        &members,
    )?;
    let deps: Vec<String> = crates
        .iter()
        .map(|c| format!("{c} = {{ path = \"{c}\" }}"))
        .collect();
    let cargo = replace_block(
        &cargo,
        "# BEGIN service crates",
        "# END service crates",
        &deps,
    )?;
    out.push(Planned {
        path: cargo_path,
        content: cargo,
        create_only: false,
    });

    // Scaffolding of new crates.
    for (name, members) in &by_crate {
        let dir = root.join(name);
        for (file, content) in templates::scaffold(name, members) {
            out.push(Planned {
                path: dir.join(file),
                content,
                create_only: true,
            });
        }
    }

    // README service table.
    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path)?;
    let table = templates::readme_table(specs);
    let readme = replace_block(&readme, "<!-- BEGIN services", "<!-- END services", &table)?;
    let constructs = templates::readme_constructs();
    let readme = replace_block(
        &readme,
        "<!-- BEGIN constructs",
        "<!-- END constructs",
        &constructs,
    )?;
    out.push(Planned {
        path: readme_path,
        content: readme,
        create_only: false,
    });

    // Sandbox bundle.
    out.push(Planned {
        path: root.join("kernel-sandbox/src/specs.generated.json"),
        content: templates::sandbox_bundle(specs)?,
        create_only: false,
    });

    // CLI: typed subcommands and dependencies.
    out.push(Planned {
        path: root.join("kernel-cli/src/typed.rs"),
        content: rustfmt(&templates::cli_commands(specs)?)?,
        create_only: false,
    });
    let cli_cargo_path = root.join("kernel-cli/Cargo.toml");
    let cli_cargo = std::fs::read_to_string(&cli_cargo_path)?;
    let cli_deps: Vec<String> = crates
        .iter()
        .map(|c| format!("{c}.workspace = true"))
        .collect();
    let cli_cargo = replace_block(
        &cli_cargo,
        "# BEGIN service crates",
        "# END service crates",
        &cli_deps,
    )?;
    out.push(Planned {
        path: cli_cargo_path,
        content: cli_cargo,
        create_only: false,
    });
    let unique: BTreeSet<&PathBuf> = out.iter().map(|p| &p.path).collect();
    debug_assert_eq!(unique.len(), out.len());
    Ok(out)
}

/// A generated crate whose spec is gone: regen drops it from the workspace; its directory is
/// left for the owner to delete (it may hold hand-written docs).
fn warn_orphans(root: &Path, specs: &[Spec]) {
    let named: BTreeSet<&str> = specs
        .iter()
        .filter_map(|s| s.meta.as_ref().map(|m| m.crate_name.as_str()))
        .collect();
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let build = entry.path().join("build.rs");
        let generated = std::fs::read_to_string(&build)
            .is_ok_and(|b| b.contains("kernel_codegen::build_script"));
        if generated && !named.contains(name.as_str()) {
            println!(
                "warning: {name}/ is a generated crate but no spec in openapi/ names it; it is no longer a workspace member: delete the directory"
            );
        }
    }
}

/// Replaces the lines strictly between the line starting with `begin` and the next line
/// starting with `end`.
pub(crate) fn replace_block(
    text: &str,
    begin: &str,
    end: &str,
    lines: &[String],
) -> Result<String> {
    let all: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(b) = all.iter().position(|l| l.starts_with(begin)) else {
        bail!("marker `{}` not found", begin.trim());
    };
    let Some(e) = all[b + 1..]
        .iter()
        .position(|l| l.starts_with(end))
        .map(|i| i + b + 1)
    else {
        bail!("marker `{}` not found after `{}`", end.trim(), begin.trim());
    };
    let mut out = String::new();
    for l in &all[..=b] {
        out.push_str(l);
    }
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    for l in &all[e..] {
        out.push_str(l);
    }
    Ok(out)
}

/// Formats generated Rust exactly as `cargo fmt` would (same rustfmt, edition 2024).
fn rustfmt(code: &str) -> Result<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("rustfmt stdin"))?
        .write_all(code.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "rustfmt refused the generated CLI code (a generator bug):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// A unified diff, for `--check`.
fn diff(old: &str, new: &str, path: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}
