//! An API Gateway export (tests/fixtures/widgets.yaml) is normalised into something
//! progenitor generates, and every rewrite is reported.

use std::path::Path;

fn fixture() -> kernel_spec::Spec {
    kernel_spec::load_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/widgets.yaml"),
    )
    .expect("the export loads (integer keys inside extensions included)")
}

#[test]
fn api_gateway_export_is_normalised_and_reported() {
    let spec = fixture();
    let rewrites: Vec<String> = spec.rewrites.iter().map(ToString::to_string).collect();
    let has = |needle: &str| {
        assert!(
            rewrites.iter().any(|r| r.contains(needle)),
            "no rewrite mentions {needle:?}:\n{}",
            rewrites.join("\n")
        );
    };
    has("x-amazon-apigateway-* extension(s)");
    has("path /widgets/{widgetId}: `options` operation removed");
    has("path /files/{proxy+}: `options` operation removed");
    has("path /files/{proxy+}: greedy variable {proxy+} renamed {proxy}");
    has(
        "operation `get_widgets_by_widget_id` (GET /widgets/{widgetId}): operationId derived from method and path",
    );
    has("operation `post_widgets` (POST /widgets): operationId derived from method and path");
    // Bounds typify's types would not enforce become named, checked types.
    has(
        "operation `get_files_by_proxy` (GET /files/{proxy}): parameter depth: bounded number moved to components.schemas.GetFilesByProxyDepth",
    );
    has("schema NewWidget.size: bounded number moved to components.schemas.NewWidgetSize");
    has(
        "operation `get_files_by_proxy` (GET /files/{proxy}): operationId derived from method and path",
    );

    let doc = &spec.doc;
    let text = serde_json::to_string(doc).expect("json");
    assert!(!text.contains("x-amazon-apigateway"), "extensions removed");
    assert!(
        doc.pointer("/paths/~1files~1{proxy}/get").is_some(),
        "greedy path renamed"
    );
    assert!(doc.pointer("/paths/~1files~1{proxy+}").is_none());
    assert!(
        doc.pointer("/paths/~1widgets~1{widgetId}/options")
            .is_none()
    );
    let ops = kernel_spec::operations(doc);
    let ids: Vec<&str> = ops.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "get_widgets_by_widget_id",
            "post_widgets",
            "get_files_by_proxy"
        ]
    );
    // The policy a kernel spec must meet holds for the normalised export.
    assert_eq!(kernel_spec::policy::check(&spec), vec![]);
}

#[test]
fn normalised_export_generates_a_client() {
    let code = kernel_codegen::generate(&fixture()).expect("generates");
    for needle in [
        "pub fn get_widgets_by_widget_id(",
        "pub fn post_widgets(",
        "pub fn get_files_by_proxy(",
        "pub async fn send(",
        "async fn send_unmapped(",
        "::kernel_core::impl_kernel_hooks!(Client);",
        "fn assert_client_hooks()",
        "pub struct Widgets",
        "prefix: \"widget-service\"",
        "::kernel_core::typed::encode_path(",
        "pub struct NewWidgetSize(i64);",
        "pub struct GetFilesByProxyDepth(i64);",
    ] {
        assert!(code.contains(needle), "generated code lacks {needle:?}");
    }
    assert!(
        !code.contains("fn options"),
        "CORS operations are not generated"
    );
    assert!(
        !code.contains(".options("),
        "CORS operations are not generated"
    );
    // Every public send returns kernel_core::Error.
    assert_eq!(
        code.matches("pub async fn send(").count(),
        code.matches("async fn send_unmapped(").count()
    );
    assert_eq!(code.matches("async fn send_unmapped(").count(), 3);
    // progenitor's usage fragments are shown as text, not left as ignored doc tests.
    assert!(!code.contains("```ignore"), "an ignored doc test is left");
    assert!(code.contains("```text"), "the usage fragments are kept");
}

#[test]
fn integer_keys_and_unquoted_enums_are_read() {
    let text = r#"
openapi: 3.0.3
info: { title: t, version: 1 }
paths:
  /x:
    get:
      operationId: getX
      parameters:
        - { name: mode, in: query, schema: { type: string, enum: [0, 1, true] } }
        - { name: since, in: query, schema: { type: string, format: date-time } }
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: { type: object }
      x-amazon-apigateway-integration:
        responses:
          200: { statusCode: 200 }
"#;
    let spec = kernel_spec::load_str("inline.yaml", text).expect("loads");
    assert_eq!(
        spec.doc
            .pointer("/paths/~1x/get/parameters/0/schema/enum")
            .expect("enum"),
        &serde_json::json!(["0", "1", "true"])
    );
    assert_eq!(
        spec.doc.pointer("/info/version"),
        Some(&serde_json::json!("1"))
    );
    assert!(
        spec.rewrites
            .iter()
            .any(|r| r.what.contains("enum values quoted"))
    );
}
