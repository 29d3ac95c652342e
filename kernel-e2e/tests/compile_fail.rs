//! The typed clients turn request mistakes into compiler errors (trybuild). Each file in
//! `tests/ui` must fail to compile with the error recorded next to it.

#[test]
fn request_mistakes_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
