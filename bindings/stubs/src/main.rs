//! `keyward-stubs`: rewrites the files made from the operation table (`make stubs`);
//! `keyward-stubs --check` only says which are stale (exit 1).

use std::process::ExitCode;

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    match keyward_stubs::sync(check) {
        Ok(stale) if stale.is_empty() => ExitCode::SUCCESS,
        Ok(stale) => {
            for path in &stale {
                let verb = if check { "stale" } else { "wrote" };
                eprintln!("{verb}: {}", path.display());
            }
            if check {
                eprintln!("run `make stubs` and commit the result");
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("keyward-stubs: {e}");
            ExitCode::FAILURE
        }
    }
}
