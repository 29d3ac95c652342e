//! Generates the typed client from the spec(s) in `../openapi` (see kernel-codegen).

fn main() {
    kernel_codegen::build_script();
}
