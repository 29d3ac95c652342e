//! Adding a service is "drop in the spec, run one command": a temporary copy of the
//! workspace gets the fixture spec (an API Gateway export), `cargo xtask regen` creates the
//! crate and refreshes everything derived, and the new typed client is built and called
//! against the regenerated sandbox. No Rust is written for the service; the only Rust the
//! test adds is the *user's* program calling the new crate.
//!
//! The copy builds into its own target directory (`target/new-service-target`): cargo
//! gives a workspace's path crates the same hashes wherever the workspace lives, so
//! building the copy into this workspace's target directory would make this workspace's
//! artifacts track the copy's sources.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURE: &str = "../kernel-codegen/tests/fixtures/widgets.yaml";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace")
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("new-service-target")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if matches!(name.to_str(), Some("target" | ".git" | "fuzz")) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).expect("copy");
        }
    }
}

fn xtask(args: &[&str], root: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .arg("--root")
        .arg(root)
        .output()
        .expect("xtask runs")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn fresh_copy(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&workspace(), &dir);
    dir
}

const USER_PROGRAM: &str = r#"//! The user's program: calls the new service through its generated client.
#[tokio::main]
async fn main() {
    let sandbox = kernel_e2e::sandbox().await;
    let kernel = kernel_e2e::client(&sandbox, false).await;
    let widgets = kernel_widgets::Widgets::new(&kernel);
    let w = widgets
        .get_widgets_by_widget_id()
        .widget_id("w-7")
        .send()
        .await
        .expect("get answers the spec's example");
    assert_eq!((w.id.as_str(), w.name.as_str()), ("w-7", "sprocket"));
    let new: kernel_widgets::types::NewWidget =
        serde_json::from_value(serde_json::json!({"name": "gear", "size": 5})).expect("valid");
    let created = widgets.post_widgets().body(new).send().await.expect("post");
    // Bounds typify's types do not enforce (size 1..=10, depth 1..=5) are checked types.
    assert!(kernel_widgets::types::NewWidgetSize::try_from(11).is_err());
    assert!(serde_json::from_value::<kernel_widgets::types::NewWidget>(serde_json::json!({"name": "gear", "size": 11})).is_err());
    let deep = widgets.get_files_by_proxy().proxy("manual").depth(9).send().await;
    assert!(matches!(deep, Err(kernel_core::Error::InvalidRequest(_))), "{deep:?}");
    assert_eq!(created.status().as_u16(), 201);
    let file = widgets.get_files_by_proxy().proxy("manual").send().await.expect("files");
    assert_eq!(file.path, "manual");
    // A path parameter cannot move the request to another path: `..`, `.`, `%2e%2e` and
    // empty values are refused before signing.
    for bad in ["..", ".", "%2E%2e", ""] {
        let r = widgets.get_files_by_proxy().proxy(bad).send().await;
        assert!(matches!(r, Err(kernel_core::Error::InvalidRequest(_))), "{bad:?}: {r:?}");
    }
    // The pattern of widgetId is enforced before anything is sent.
    let refused = widgets.get_widgets_by_widget_id().widget_id("x-7").send().await;
    assert!(matches!(refused, Err(kernel_core::Error::InvalidRequest(_))), "{refused:?}");
    // The sandbox validates by spec: a raw call with a bad id is refused with 400.
    let service = kernel_widgets::widgets::SERVICE;
    let bad = kernel.call_service(&service, "widgets/x-7", kernel_core::CallOptions::new()).await;
    assert_eq!(bad.expect_err("400").status().map(|s| s.as_u16()), Some(400));
    let c = sandbox.counters();
    assert_eq!(c.verified_requests, 4, "{c:?}");
    assert_eq!(c.invalid_requests, 1, "{c:?}");
    for op in ["get_widgets_by_widget_id", "post_widgets", "get_files_by_proxy"] {
        assert!(c.operation_requests.contains_key(&format!("widget-service {op}")), "{op}: {c:?}");
    }
    println!("widgets: get, post and files answered; signatures verified: {}", c.verified_requests);
}
"#;

#[test]
fn a_spec_and_one_command_give_a_callable_crate() {
    let ws = fresh_copy("new-service-workspace");
    std::fs::copy(
        workspace().join("xtask").join(FIXTURE),
        ws.join("openapi/widgets.yaml"),
    )
    .expect("fixture");

    // Before regen, --check sees everything the spec implies as missing or stale.
    let check = xtask(&["regen", "--check"], &ws);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    let out = String::from_utf8_lossy(&check.stdout).to_string();
    for stale in [
        "stale: Cargo.toml",
        "stale: kernel-widgets/src/lib.rs",
        "stale: README.md",
        "stale: kernel-cli/src/typed.rs",
    ] {
        assert!(out.contains(stale), "{stale}: {}", text(&check));
    }

    // The one command.
    let regen = xtask(&["regen"], &ws);
    assert!(regen.status.success(), "{}", text(&regen));
    let out = String::from_utf8_lossy(&regen.stdout).to_string();
    for line in [
        "normalised openapi/widgets.yaml: path /widgets/{widgetId}: `options` operation removed",
        "normalised openapi/widgets.yaml: path /files/{proxy+}: greedy variable {proxy+} renamed {proxy}",
        "created: kernel-widgets/Cargo.toml",
        "created: kernel-widgets/build.rs",
        "created: kernel-widgets/src/lib.rs",
        "updated: Cargo.toml",
        "updated: README.md",
        "updated: kernel-sandbox/src/specs.generated.json",
        "updated: kernel-cli/src/typed.rs",
        "updated: kernel-cli/Cargo.toml",
    ] {
        assert!(out.contains(line), "missing {line:?}: {}", text(&regen));
    }
    let read = |p: &str| std::fs::read_to_string(ws.join(p)).expect(p);
    assert!(read("Cargo.toml").contains("    \"kernel-widgets\",\n"));
    assert!(read("README.md").contains("| Widget service | `openapi/widgets.yaml` | `kernel-widgets` · `Widgets` | `widget-service` |"));
    let cli = read("kernel-cli/src/typed.rs");
    assert!(
        cli.contains("#[command(name = \"widgets\", subcommand)]"),
        "CLI subcommand"
    );
    assert!(
        cli.contains("#[command(name = \"get-widgets-by-widget-id\")]"),
        "CLI operation"
    );
    assert!(
        read("kernel-sandbox/src/specs.generated.json").contains("\"prefix\": \"widget-service\"")
    );
    // Idempotent, and --check is now clean.
    let again = xtask(&["regen", "--check"], &ws);
    assert!(again.status.success(), "{}", text(&again));

    // The user's program, built against the generated crate and the regenerated sandbox.
    let krate = ws.join("kernel-widgets");
    std::fs::create_dir_all(krate.join("examples")).expect("mkdir");
    std::fs::write(krate.join("examples/widgets_fixture_call.rs"), USER_PROGRAM).expect("write");
    let mut manifest = read("kernel-widgets/Cargo.toml");
    manifest
        .push_str("\n[dev-dependencies]\nkernel-e2e.workspace = true\ntokio.workspace = true\n");
    manifest = manifest.replace("[lints]\nworkspace = true\n", "");
    manifest.push_str("\n[lints]\nworkspace = true\n");
    std::fs::write(krate.join("Cargo.toml"), manifest).expect("write");
    let mut root_manifest = read("Cargo.toml");
    root_manifest = root_manifest.replace(
        "kernel-sandbox = { path = \"kernel-sandbox\" }",
        "kernel-sandbox = { path = \"kernel-sandbox\" }\nkernel-e2e = { path = \"kernel-e2e\" }",
    );
    std::fs::write(ws.join("Cargo.toml"), root_manifest).expect("write");
    let run = Command::new(env!("CARGO"))
        .args([
            "run",
            "--offline",
            "--quiet",
            "-p",
            "kernel-widgets",
            "--example",
            "widgets_fixture_call",
        ])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("cargo runs");
    assert!(run.status.success(), "{}", text(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout)
            .contains("widgets: get, post and files answered; signatures verified: 4"),
        "{}",
        text(&run)
    );

    // The regenerated CLI has the new service's subcommands, with typed parameters
    // (path string, bounded integer, array of an enum) converted to the setters' exact types.
    let build_cli = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet", "-p", "kernel-cli"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("cargo runs");
    assert!(build_cli.status.success(), "{}", text(&build_cli));
    let kernel = |args: &[&str]| {
        Command::new(target_dir().join("debug/kernel"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PARTNER", "paytheory")
            .env("STAGE", "prod")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("kernel runs")
    };
    let get = kernel(&[
        "--sandbox",
        "widgets",
        "get-widgets-by-widget-id",
        "--widget-id",
        "w-7",
    ]);
    assert!(get.status.success(), "{}", text(&get));
    assert!(
        String::from_utf8_lossy(&get.stdout).contains("\"sprocket\""),
        "{}",
        text(&get)
    );
    let files = kernel(&[
        "--sandbox",
        "widgets",
        "get-files-by-proxy",
        "--proxy",
        "manual",
        "--depth",
        "2",
        "--fields",
        "size,owner",
    ]);
    assert!(files.status.success(), "{}", text(&files));
    // `fields` is an array of a spec enum (`Vec<types::Field>` in the setter): a value
    // outside the enum is an input error naming the parameter.
    let colour = kernel(&[
        "--dry-run",
        "widgets",
        "get-files-by-proxy",
        "--proxy",
        "manual",
        "--fields",
        "size,colour",
    ]);
    assert_eq!(colour.status.code(), Some(2), "{}", text(&colour));
    assert!(
        String::from_utf8_lossy(&colour.stderr).contains("fields"),
        "{}",
        text(&colour)
    );
    let deep = kernel(&[
        "--dry-run",
        "widgets",
        "get-files-by-proxy",
        "--proxy",
        "manual",
        "--depth",
        "9",
    ]);
    assert_eq!(deep.status.code(), Some(2), "{}", text(&deep));
    assert!(
        String::from_utf8_lossy(&deep.stderr).contains("invalid input: depth: above the maximum 5"),
        "{}",
        text(&deep)
    );
    let example = kernel(&["--sandbox", "widgets", "post-widgets", "--example"]);
    assert!(example.status.success(), "{}", text(&example));

    // A spec progenitor cannot generate breaks the build with one readable line naming the
    // spec, the operation and the construct, and no backtrace.
    // The 400 of one operation gets its own (identical) error schema: progenitor then sees
    // two error types for one operation and panics.
    let broken = read("openapi/widgets.yaml")
        .replacen(
            "                $ref: \"#/components/schemas/Error\"\n              example:\n                message: \"invalid widgetId\"",
            "                $ref: \"#/components/schemas/OtherError\"\n              example:\n                message: \"invalid widgetId\"",
            1,
        )
        .replacen(
            "    Error:\n      title: \"Error Schema\"",
            "    OtherError:\n      title: \"Error Schema\"\n      type: \"object\"\n      required: [\"message\"]\n      properties:\n        message:\n          type: \"string\"\n    Error:\n      title: \"Error Schema\"",
            1,
        );
    assert!(broken.contains("schemas/OtherError") && broken.contains("    OtherError:"));
    std::fs::write(ws.join("openapi/widgets.yaml"), broken).expect("write");
    let build = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet", "-p", "kernel-widgets"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("cargo runs");
    let err = String::from_utf8_lossy(&build.stderr).to_string();
    assert!(!build.status.success(), "{}", text(&build));
    assert!(
        err.contains("widgets.yaml: operation `get_widgets_by_widget_id` (GET /widgets/{widgetId}): responses ")
            && err.contains(": progenitor panicked"),
        "{}",
        text(&build)
    );
    assert!(
        !err.contains("stack backtrace") && !err.contains("panicked at"),
        "{}",
        text(&build)
    );
}

#[test]
fn regen_reports_a_broken_spec_in_one_readable_line() {
    let ws = fresh_copy("broken-spec-workspace");
    let k3 = std::fs::read_to_string(ws.join("openapi/k3.yaml")).expect("k3");
    std::fs::write(
        ws.join("openapi/k3.yaml"),
        k3.replacen("exp_month: \"12\"", "exp_month: \"13\"", 1),
    )
    .expect("write");
    std::fs::write(
        ws.join("openapi/v31.yaml"),
        "openapi: 3.1.0\ninfo: { title: t, version: '1' }\npaths: {}\n",
    )
    .expect("write");
    let out = xtask(&["regen"], &ws);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        err.trim(),
        "xtask: error: openapi/v31.yaml: openapi version: 3.1.0 is not supported; the generator reads OpenAPI 3.0.x only",
        "{}",
        text(&out)
    );
    std::fs::remove_file(ws.join("openapi/v31.yaml")).expect("rm");
    let out = xtask(&["regen"], &ws);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        err.contains("openapi/k3.yaml: operation `tokenize` (POST /v1/tokenize): request body example: exp_month: does not match ^(0[1-9]|1[0-2])$"),
        "{}",
        text(&out)
    );
    assert!(!err.contains("panicked"), "{}", text(&out));
    // Nothing was written.
    assert_eq!(
        std::fs::read_to_string(ws.join("README.md")).expect("readme"),
        std::fs::read_to_string(workspace().join("README.md")).expect("readme")
    );
}
