//! `isapi-harness`: the command line. Everything it does lives in the library; this file only
//! turns the outcome into an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // aspnet_regiis spells its options with one dash (`-i -enable`); accept them as it does.
    let args =
        std::env::args_os().map(|arg| if arg == "-enable" { "--enable".into() } else { arg });
    let cli = harness::cli::Cli::parse_from(args);
    match harness::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("isapi-harness: {error:#}");
            ExitCode::from(2)
        }
    }
}
