//! # kernel-spec
//!
//! The kernel's OpenAPI 3.0 documents as data. Everything that reads `openapi/` goes through
//! here, so the generated clients (`build.rs`), `cargo xtask regen` and the sandbox all see
//! the same normalised document:
//!
//! | module | job |
//! |---|---|
//! | [`load`] | YAML/JSON → `serde_json::Value` (integer keys become strings) |
//! | [`normalise`] | rewrites API Gateway exports into what the generator accepts; refuses the rest |
//! | [`meta`] | the `x-kernel` service metadata (prefix, region in URL, method, subsystem, …) |
//! | [`mod@operations`] | the operations of a document, flattened (method, path, parameters, body, responses) |
//! | [`checked`] | which schemas get checked newtypes (sensitive, kernel formats, bounded numbers); hoisting |
//! | [`formats`] | checksummed string formats (`aba-routing-number`) |
//! | [`schema`] | a small OpenAPI 3.0 schema validator (examples, sandbox request validation) |
//! | [`policy`] | the rules every spec in `openapi/` must follow (ids, examples, error shapes) |
//!
//! Errors ([`SpecError`]) always name the spec file, the operation when there is one, and
//! the construct, in one line.

pub mod checked;
pub mod formats;
pub mod load;
pub mod meta;
pub mod normalise;
pub mod operations;
pub mod policy;
pub mod schema;

mod error;

pub use error::SpecError;
pub use load::{Spec, load_dir, load_file, load_str};
pub use meta::ServiceMeta;
pub use operations::{Operation, Parameter, ParameterLocation, operations};
