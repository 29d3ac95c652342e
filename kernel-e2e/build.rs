//! Generates the constraints fixture's client (tests/fixtures/constraints.yaml) into
//! `OUT_DIR`, the way a service crate's build script does, for tests/constraints.rs.

use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    let out = std::env::var("OUT_DIR").expect("set by cargo");
    let spec_path = Path::new(&manifest).join("tests/fixtures/constraints.yaml");
    println!("cargo::rerun-if-changed={}", spec_path.display());
    let code = kernel_spec::load_file(&spec_path)
        .and_then(|spec| kernel_codegen::generate(&spec))
        .unwrap_or_else(|e| {
            println!("cargo::error={e}");
            std::process::exit(1);
        });
    std::fs::write(Path::new(&out).join("constraints.rs"), code).expect("OUT_DIR is writable");
}
