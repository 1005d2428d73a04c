//! Compile errors users meet, pinned: each `tests/ui/<topic>/*.rs` beside the `.stderr` it must
//! produce. Regenerate with `TRYBUILD=overwrite cargo test --test ui` (and, for the contract's,
//! `--features contract`), then read every `.stderr`.

/// Without the contract: with feature `contract` every body and answer type needs a schema,
/// which these cases do not give.
#[cfg(not(feature = "contract"))]
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

/// With feature `contract`: `cargo test --features contract --test ui`.
#[cfg(feature = "contract")]
#[test]
fn contract_compile_errors_teach() {
    trybuild::TestCases::new().compile_fail("tests/ui/contract/*.rs");
}
