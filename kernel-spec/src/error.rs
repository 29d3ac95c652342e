use std::fmt;

/// A spec problem, in one readable line: `openapi/k3.yaml: operation `tokenize` (POST
/// /v1/tokenize): request body: more than one media type and none is application/json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The spec's file name (or a label for in-memory specs).
    pub spec: String,
    /// `operationId (METHOD /path)`, when the problem belongs to one operation.
    pub operation: Option<String>,
    /// The construct at fault (`request body`, `parameter proxy+`, `openapi version`, …).
    pub construct: String,
    /// What is wrong and, where it helps, what to do.
    pub why: String,
}

impl SpecError {
    pub(crate) fn new(spec: &str, construct: impl Into<String>, why: impl Into<String>) -> Self {
        SpecError {
            spec: spec.to_owned(),
            operation: None,
            construct: construct.into(),
            why: why.into(),
        }
    }

    pub(crate) fn op(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.spec)?;
        if let Some(op) = &self.operation {
            write!(f, "operation {op}: ")?;
        }
        write!(f, "{}: {}", self.construct, self.why)
    }
}

impl std::error::Error for SpecError {}
