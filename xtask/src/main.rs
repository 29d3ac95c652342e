//! Repository automation. Run through the cargo alias in `.cargo/config.toml`:
//!
//! * `cargo xtask regen [--check]` — validate the specs in `openapi/` and refresh
//!   everything derived from them (see [`regen`]); `--check` changes nothing and fails with
//!   a diff when something is stale.
//! * `cargo xtask test`  — install the Python peers (if needed), then
//!   `cargo nextest run --workspace --all-targets --no-fail-fast` and
//!   `cargo test --workspace --doc`, with `KERNEL_PEER_PYTHON` pointing at the peers' venv.
//! * `cargo xtask ci`    — `cargo fmt --all -- --check`,
//!   `cargo clippy --workspace --all-targets -- -D warnings`, `regen --check`, then the
//!   same as `test`.
//! * `cargo xtask peers` — only set up the venv and print its python.
//!
//! The peers (botocore, moto, ...) live in a venv at `<workspace>/target/peer-venv`
//! (`KERNEL_PEER_VENV` overrides), installed from `tests/peers/requirements.txt` with
//! `python3 -m venv` + `pip install -r`. A stamp file in the venv records a hash of the
//! requirements and the interpreter; when it matches, the install is skipped.
//! `KERNEL_PEER_BOOTSTRAP_PYTHON` picks the interpreter that creates the venv (default
//! `python3`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

mod regen;
mod templates;

const USAGE: &str = "usage: cargo xtask <regen [--check]|test|ci|peers>
  regen  [--check] [--root DIR]  validate openapi/ and refresh everything derived from it
         (--check: change nothing, fail with a diff if anything is stale)
  test   install the Python peers if needed, run every test (nextest + doc tests)
  ci     fmt --check, clippy -D warnings, regen --check, then `test`
  peers  only set up the peers' venv and print its python";

const STAMP_FILE: &str = "kernel-peers.stamp";
const REQUIREMENTS: &str = "tests/peers/requirements.txt";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("regen") => match regen_args(&args[1..]) {
            Some((check, root)) => regen::regen(&root, check),
            None => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        },
        Some("test") if args.len() == 1 => test(),
        Some("ci") if args.len() == 1 => ci(),
        Some("peers") if args.len() == 1 => peers().map(|python| {
            println!("{}", python.display());
            true
        }),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `[--check] [--root DIR]` (the root defaults to this workspace; tests point it at a copy).
fn regen_args(args: &[String]) -> Option<(bool, PathBuf)> {
    let mut check = false;
    let mut root = workspace_root();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => check = true,
            "--root" => root = PathBuf::from(it.next()?),
            _ => return None,
        }
    }
    Some((check, root))
}

fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

// ---------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------

/// One command's outcome, for the summary.
struct StepResult {
    name: String,
    ok: bool,
    took: Duration,
}

#[derive(Default)]
struct Steps {
    results: Vec<StepResult>,
}

impl Steps {
    /// Runs `cmd` in the workspace root, streaming its output; records pass/fail.
    fn run(&mut self, name: &str, mut cmd: Command) -> Result<bool> {
        println!("\n==> xtask: {name}");
        let started = Instant::now();
        let status = cmd
            .current_dir(workspace_root())
            .status()
            .with_context(|| format!("could not start `{name}`"))?;
        let took = started.elapsed();
        let ok = status.success();
        println!(
            "==> xtask: {name}: {} in {}",
            if ok { "ok" } else { "FAILED" },
            secs(took)
        );
        if !ok {
            println!("    ({status})");
        }
        self.results.push(StepResult {
            name: name.to_owned(),
            ok,
            took,
        });
        Ok(ok)
    }

    fn summary(&self) -> bool {
        println!("\n==> xtask summary");
        for r in &self.results {
            println!(
                "    {:<6} {:>8}  {}",
                if r.ok { "ok" } else { "FAILED" },
                secs(r.took),
                r.name
            );
        }
        let failed = self.results.iter().filter(|r| !r.ok).count();
        if failed == 0 {
            println!("==> xtask: all {} steps passed", self.results.len());
        } else {
            println!("==> xtask: {failed} of {} steps FAILED", self.results.len());
        }
        failed == 0
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn cargo_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.args(args);
    cmd
}

fn test() -> Result<bool> {
    let mut steps = Steps::default();
    run_tests(&mut steps)?;
    Ok(steps.summary())
}

fn ci() -> Result<bool> {
    let mut steps = Steps::default();
    steps.run(
        "cargo fmt --all -- --check",
        cargo_cmd(&["fmt", "--all", "--", "--check"]),
    )?;
    steps.run(
        "cargo clippy --workspace --all-targets -- -D warnings",
        cargo_cmd(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    let mut regen = Command::new(std::env::current_exe()?);
    regen.args(["regen", "--check"]);
    steps.run("cargo xtask regen --check", regen)?;
    run_tests(&mut steps)?;
    Ok(steps.summary())
}

/// The peers, then every test. Every step runs even if an earlier one failed (without
/// the peers, only the peer tests fail, each saying how to install them).
fn run_tests(steps: &mut Steps) -> Result<()> {
    println!("\n==> xtask: python peers");
    let started = Instant::now();
    let python = match peers() {
        Ok(python) => Some(python),
        Err(e) => {
            eprintln!("xtask: error: could not set up the python peers: {e:#}");
            None
        }
    };
    steps.results.push(StepResult {
        name: "python peers (venv)".into(),
        ok: python.is_some(),
        took: started.elapsed(),
    });
    ensure_nextest()?;
    let mut nextest = cargo_cmd(&[
        "nextest",
        "run",
        "--workspace",
        "--all-targets",
        "--no-fail-fast",
    ]);
    if let Some(python) = &python {
        nextest.env("KERNEL_PEER_PYTHON", python);
    }
    steps.run(
        "cargo nextest run --workspace --all-targets --no-fail-fast",
        nextest,
    )?;
    let mut doc = cargo_cmd(&["test", "--workspace", "--doc"]);
    if let Some(python) = &python {
        doc.env("KERNEL_PEER_PYTHON", python);
    }
    steps.run("cargo test --workspace --doc", doc)?;
    Ok(())
}

fn ensure_nextest() -> Result<()> {
    let out = Command::new(cargo())
        .args(["nextest", "--version"])
        .output()
        .context("could not run `cargo nextest --version`")?;
    if !out.status.success() {
        bail!(
            "cargo-nextest is not installed (`cargo install cargo-nextest --locked`): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Python peers
// ---------------------------------------------------------------------------------------

fn venv_dir() -> PathBuf {
    match std::env::var_os("KERNEL_PEER_VENV").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target").join("peer-venv"),
    }
}

/// Ensures the venv with the peers exists and is up to date; returns its python
/// (absolute path).
fn peers() -> Result<PathBuf> {
    let root = workspace_root();
    let requirements_path = root.join(REQUIREMENTS);
    let requirements = std::fs::read(&requirements_path)
        .with_context(|| format!("reading {}", requirements_path.display()))?;
    let venv = venv_dir();
    let python = venv.join("bin").join("python");
    println!("==> xtask: python peers venv: {}", venv.display());

    // A venv whose interpreter no longer runs (moved, or its base python is gone) is rebuilt.
    let mut version = python_version(&python);
    if version.is_none() {
        let bootstrap = std::env::var_os("KERNEL_PEER_BOOTSTRAP_PYTHON")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "python3".into());
        let clear = venv.exists();
        if clear && !venv.join("pyvenv.cfg").exists() && !is_empty_dir(&venv) {
            bail!(
                "{} exists but is not a venv; refusing to clear it (remove it or set KERNEL_PEER_VENV)",
                venv.display()
            );
        }
        println!(
            "==> xtask: {} venv with `{} -m venv{}`",
            if clear {
                "rebuilding a broken"
            } else {
                "creating the"
            },
            bootstrap.to_string_lossy(),
            if clear { " --clear" } else { "" }
        );
        let started = Instant::now();
        let mut cmd = Command::new(&bootstrap);
        cmd.args(["-m", "venv"]);
        if clear {
            cmd.arg("--clear");
        }
        let status = cmd.arg(&venv).status().with_context(|| {
            format!(
                "could not run `{}` (python3 with the venv module is required)",
                bootstrap.to_string_lossy()
            )
        })?;
        if !status.success() {
            bail!(
                "`{} -m venv {}` failed ({status}); on Debian/Ubuntu install python3-venv",
                bootstrap.to_string_lossy(),
                venv.display()
            );
        }
        println!("==> xtask: venv ready in {}", secs(started.elapsed()));
        version = python_version(&python);
    }
    let Some(version) = version else {
        bail!("the venv's python ({}) does not run", python.display());
    };

    let stamp_path = venv.join(STAMP_FILE);
    let wanted = stamp_text(&requirements, &version);
    let current = std::fs::read_to_string(&stamp_path).unwrap_or_default();
    if current == wanted {
        println!(
            "==> xtask: python peers up to date ({}, {REQUIREMENTS} hash {:016x})",
            version,
            fnv1a64(&requirements)
        );
        return Ok(python);
    }

    println!(
        "==> xtask: installing the python peers from {REQUIREMENTS} into {} (python {version})",
        venv.display()
    );
    let _ = std::fs::remove_file(&stamp_path);
    let started = Instant::now();
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
            // pip's own bounds: per-socket-operation timeout and retries.
            "--timeout",
            "60",
            "--retries",
            "3",
            "-r",
        ])
        .arg(&requirements_path)
        .current_dir(&root)
        .status()
        .context("could not run pip in the venv")?;
    if !status.success() {
        bail!("pip install -r {REQUIREMENTS} failed ({status})");
    }
    // The peers must import before we record success.
    let status = Command::new(&python)
        .args([
            "-c",
            "import botocore.auth, moto.server, flask, flask_cors; print('peers import ok: botocore', botocore.__version__)",
        ])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .status()
        .context("could not run the venv's python")?;
    if !status.success() {
        bail!("the python peers were installed but do not import ({status})");
    }
    std::fs::write(&stamp_path, &wanted)
        .with_context(|| format!("writing {}", stamp_path.display()))?;
    println!(
        "==> xtask: python peers installed in {}",
        secs(started.elapsed())
    );
    Ok(python)
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// `Python 3.11.7` of the interpreter, or None when it does not run.
fn python_version(python: &Path) -> Option<String> {
    if !python.exists() {
        return None;
    }
    let out = Command::new(python).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    // Python < 3.4 printed the version on stderr; be lenient.
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    Some(String::from_utf8_lossy(&text).trim().to_owned())
}

fn stamp_text(requirements: &[u8], python_version: &str) -> String {
    format!(
        "requirements-fnv1a64={:016x}\npython={python_version}\n",
        fnv1a64(requirements)
    )
}

/// FNV-1a, 64 bit: a stable content hash without dependencies (not for security).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_known_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn stamp_changes_with_requirements_and_python() {
        let a = stamp_text(b"moto==5.2.5\n", "Python 3.11.7");
        assert_eq!(a, stamp_text(b"moto==5.2.5\n", "Python 3.11.7"));
        assert_ne!(a, stamp_text(b"moto==5.2.6\n", "Python 3.11.7"));
        assert_ne!(a, stamp_text(b"moto==5.2.5\n", "Python 3.12.1"));
    }

    #[test]
    fn workspace_root_holds_the_requirements() {
        assert!(workspace_root().join(REQUIREMENTS).is_file());
    }
}
