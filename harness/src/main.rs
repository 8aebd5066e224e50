//! `isapi-harness`: the command line. Everything it does lives in the library; this file only
//! turns the outcome into an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // First, before any thread exists: SIGINT and SIGTERM end the run cleanly (exit 130/143).
    if let Err(error) = harness::interrupt::install() {
        eprintln!("isapi-harness: {error:#}");
        return ExitCode::from(2);
    }
    // aspnet_regiis spells its options with one dash (`-i -enable`); accept them as it does.
    let args =
        std::env::args_os().map(|arg| if arg == "-enable" { "--enable".into() } else { arg });
    let cli = harness::cli::Cli::parse_from(args);
    match harness::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            // Cut short by SIGINT/SIGTERM: the signal thread is cleaning up and exits itself;
            // should this thread get here first, it still says what happened, never exit 2.
            // An error that a signal caused (a warm-up host the clean-up ended, say) is the
            // interruption's too: the signal, not the error it left behind, ends the run.
            let interrupted = error
                .downcast_ref::<harness::interrupt::Interrupted>()
                .copied()
                .or_else(|| harness::interrupt::requested().map(harness::interrupt::Interrupted));
            if let Some(interrupted) = interrupted {
                std::thread::sleep(std::time::Duration::from_secs(10));
                eprintln!("isapi-harness: {interrupted}");
                return ExitCode::from(interrupted.exit_code());
            }
            eprintln!("isapi-harness: {error:#}");
            ExitCode::from(2)
        }
    }
}
