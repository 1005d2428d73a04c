//! Compile errors users meet, pinned: each `tests/ui/<topic>/*.rs` beside the `.stderr` it must
//! produce. Regenerate with `TRYBUILD=overwrite cargo test --test ui`, then read every `.stderr`.

#[test]
fn compile_errors_teach() {
    let cases = trybuild::TestCases::new();
    for topic in [
        "arguments",
        "handler",
        "controller",
        "binding",
        "lifecycle",
        "gateway",
        "sse",
    ] {
        cases.compile_fail(format!("tests/ui/{topic}/*.rs"));
    }
    cases.pass("tests/ui/pass/*.rs");
}
