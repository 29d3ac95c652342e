//! A spec the pipeline cannot generate yields one readable error naming the spec, the
//! operation and the construct — never a panic or a backtrace.

const META: &str = r#"
x-kernel:
  crate: kernel-broken
  module: broken
  client: Broken
  cli: broken
  prefix: broken-service
  region_in_url: true
  default_method: GET
  subsystem: BROKEN
"#;

fn spec(paths: &str, components: &str) -> String {
    format!(
        "openapi: 3.0.3\ninfo: {{ title: broken, version: '1' }}\n{META}paths:\n{paths}\ncomponents:\n  schemas:\n{components}"
    )
}

const OK_OP: &str = r#"
  /fine:
    get:
      operationId: fine
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: { type: object }
"#;

/// Loading + generation, as `build.rs` and `cargo xtask regen` do it.
fn attempt(text: &str) -> String {
    let result = std::panic::catch_unwind(|| {
        kernel_spec::load_str("broken.yaml", text)
            .and_then(|s| kernel_codegen::generate(&s).map(drop))
    });
    match result {
        Ok(Ok(())) => panic!("expected an error"),
        Ok(Err(e)) => e.to_string(),
        Err(_) => panic!("the pipeline panicked instead of reporting an error"),
    }
}

#[test]
fn a_panic_inside_progenitor_is_reported_with_the_operation() {
    // Two error responses with identical but separately named schemas: normalisation sees
    // one shape, progenitor sees two types and panics (`assertion failed:
    // response_types.len() <= 1`). The panic is caught and the operation found.
    let text = spec(
        &format!(
            "{OK_OP}  /things:\n    get:\n      operationId: listThings\n      responses:\n        \"200\":\n          description: ok\n          content:\n            application/json:\n              schema: {{ type: object }}\n        \"400\":\n          description: bad\n          content:\n            application/json:\n              schema: {{ $ref: '#/components/schemas/Problem' }}\n        \"404\":\n          description: missing\n          content:\n            application/json:\n              schema: {{ $ref: '#/components/schemas/NotFound' }}\n"
        ),
        "    Problem:\n      type: object\n      properties: { message: { type: string } }\n    NotFound:\n      type: object\n      properties: { message: { type: string } }\n",
    );
    let msg = attempt(&text);
    assert!(
        msg.starts_with(
            "broken.yaml: operation `listThings` (GET /things): responses 400, 404: progenitor panicked: "
        ),
        "{msg}"
    );
    assert!(
        !msg.contains("stack backtrace") && !msg.contains('\n'),
        "one line: {msg}"
    );
}

#[test]
fn a_multi_line_panic_is_one_line_naming_the_parameter() {
    // An object-typed header parameter makes progenitor fail an `assert_eq!`, whose
    // message spans three lines; the part at fault is found by removing parts one by one.
    let text = spec(
        &format!(
            "{OK_OP}  /x:\n    get:\n      operationId: getX\n      parameters:\n        - name: x-filter\n          in: header\n          schema: {{ type: object, properties: {{ a: {{ type: string }} }} }}\n      responses:\n        \"200\":\n          description: ok\n          content:\n            application/json:\n              schema: {{ type: object }}\n"
        ),
        "    Unused: { type: object }\n",
    );
    let msg = attempt(&text);
    assert!(
        msg.starts_with(
            "broken.yaml: operation `getX` (GET /x): parameter header x-filter: progenitor panicked: "
        ),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[test]
fn a_schema_the_generator_refuses_is_named() {
    // Enum values that contradict an integer type: typify refuses the schema itself.
    let text = spec(
        OK_OP,
        "    Mode:\n      type: integer\n      enum: [fast, slow]\n",
    );
    let msg = attempt(&text);
    assert!(
        msg.starts_with("broken.yaml: schema Mode: progenitor: "),
        "{msg}"
    );
}

#[test]
fn constructs_the_generator_cannot_handle_are_refused_by_name() {
    let cases = [
        (
            "  /x:\n    get:\n      operationId: two\n      responses:\n        \"200\":\n          description: a\n          content:\n            application/json:\n              schema: { type: object }\n        \"201\":\n          description: b\n          content:\n            application/json:\n              schema: { type: string }\n",
            "broken.yaml: operation `two` (GET /x): responses 200 and 201: success (2xx) responses must all have the same shape",
        ),
        (
            "  /x:\n    get:\n      operationId: cookie\n      parameters:\n        - { name: session, in: cookie, schema: { type: string } }\n      responses:\n        \"200\": { description: ok }\n",
            "broken.yaml: operation `cookie` (GET /x): parameter session: cookie parameters are not supported",
        ),
        (
            "  /x:\n    post:\n      operationId: upload\n      requestBody:\n        content:\n          multipart/form-data:\n            schema: { type: object }\n      responses:\n        \"200\": { description: ok }\n",
            "broken.yaml: operation `upload` (POST /x): request body: media type multipart/form-data is not supported",
        ),
        (
            "  /x:\n    get:\n      operationId: remote\n      responses:\n        \"200\":\n          description: ok\n          content:\n            application/json:\n              schema: { $ref: 'https://example.invalid/schemas.yaml#/Thing' }\n",
            "broken.yaml: $ref https://example.invalid/schemas.yaml#/Thing: external references are not supported",
        ),
        (
            "  /x:\n    get:\n      operationId: reserved\n      responses:\n        \"200\": { description: ok }\n        5XX: { description: any server error }\n",
            "broken.yaml: operation `reserved` (GET /x): response 5XX: the 5XX range and status 599 are reserved by the SDK",
        ),
        (
            "  /x:\n    get:\n      operationId: clash\n      parameters:\n        - { name: Limit, in: header, schema: { type: string } }\n        - { name: limit, in: query, schema: { type: string } }\n      responses:\n        \"200\": { description: ok }\n",
            "broken.yaml: operation `clash` (GET /x): parameter query limit: has the same Rust name as header Limit",
        ),
        (
            "  /x:\n    post:\n      operationId: pin\n      requestBody:\n        content:\n          application/json:\n            schema:\n              type: object\n              properties:\n                pin: { type: string, x-kernel-sensitive: true }\n      responses:\n        \"200\": { description: ok }\n",
            "broken.yaml: x-kernel-sensitive at /paths/~1x/post/requestBody/content/application~1json/schema/properties/pin: is honoured on component schemas only",
        ),
        (
            "  /x:\n    get:\n      operationId: bank\n      parameters:\n        - { name: rtn, in: query, required: true, schema: { type: string, format: aba-routing-number } }\n      responses:\n        \"200\": { description: ok }\n",
            "broken.yaml: format: aba-routing-number at /paths/~1x/get/parameters/0/schema: is honoured on component schemas only",
        ),
    ];
    for (paths, expected) in cases {
        let msg = attempt(&spec(paths, "    Unused: { type: object }\n"));
        assert!(
            msg.starts_with(expected),
            "expected {expected:?}\n     got {msg:?}"
        );
    }
    let integer_rtn = attempt(&spec(
        OK_OP,
        "    Rtn: { type: integer, format: aba-routing-number }\n",
    ));
    assert_eq!(
        integer_rtn,
        "broken.yaml: format: aba-routing-number at /components/schemas/Rtn: is supported on `type: string` schemas only"
    );
    let impossible = attempt(&spec(
        OK_OP,
        "    Month: { type: integer, minimum: 13, maximum: 12 }\n",
    ));
    assert_eq!(
        impossible,
        "broken.yaml: schema at /components/schemas/Month: no value satisfies its minimum and maximum"
    );
    let v31 = attempt("openapi: 3.1.0\ninfo: { title: t, version: '1' }\npaths: {}\n");
    assert_eq!(
        v31,
        "broken.yaml: openapi version: 3.1.0 is not supported; the generator reads OpenAPI 3.0.x only"
    );
    let swagger = attempt("swagger: '2.0'\ninfo: { title: t, version: '1' }\npaths: {}\n");
    assert!(
        swagger.starts_with("broken.yaml: swagger: Swagger 2.0 is not supported"),
        "{swagger}"
    );
    let yaml = attempt("openapi: 3.0.3\ninfo: [unclosed\n");
    assert!(
        yaml.starts_with("broken.yaml: document: not valid YAML or JSON at line"),
        "{yaml}"
    );
}
