//! A generated file that no longer matches the operation table fails here: edit
//! `core/src/call.rs`, run `make stubs`, commit both.

#[test]
fn every_generated_file_matches_the_operation_table() {
    let stale = keyward_stubs::sync(true);
    assert_eq!(stale, Ok(Vec::new()), "stale generated files: run `make stubs`");
}
