//! `isapi-harness inspect IMAGE [--json]`: what an image's headers say, one fact a line: DLL or
//! EXE, every ISAPI role its exports show (filter, extension, IIS 7+ native module) with their
//! entry points, the DLLs it imports, and last a prediction of the processes that would load
//! it, labelled as a prediction: only a real load (`start`, `repro`, `matrix`) says what the
//! loader does.
//!
//! Exit codes: 0 for a PE image, however odd or damaged its headers; 2 for a file that is not
//! one (no MZ or PE signature: a text file, an empty file) and for an unreadable file, a folder,
//! a FIFO or a device, each an error that `main` prints in one line. Only the headers are read,
//! however large the file.

use std::io::Write;
use std::process::ExitCode;

use anyhow::anyhow;

use crate::pe;
use crate::report;

pub fn run(args: super::InspectArgs) -> anyhow::Result<ExitCode> {
    let shown = args.dll.display().to_string();
    let info = pe::inspect(&args.dll).map_err(|error| {
        anyhow!("cannot read `{shown}`: {error}; give the path of an image file (a regular file you may read)")
    })?;
    if !info.pe {
        // Nothing here is an image to report on: a file the user meant to be a DLL and is not
        // is bad input, said in the one line the other commands use for it.
        let why = info.problem.as_deref().unwrap_or("no PE signature");
        return Err(anyhow!(
            "`{shown}` is not a PE image ({why}); give a DLL or EXE built for Windows (the loader answers Win32 error 193 for this file)"
        ));
    }
    let out = if args.json {
        report::json::render(&report::inspect::report(&shown, &info))? + "\n"
    } else {
        report::inspect::text(&shown, &info)
    };
    // A reader that stops early (`| head`) is not an error worth a panic or exit code 2.
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(anyhow!("cannot write the report for `{shown}` to stdout: {error}"));
        }
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_pe_image_is_bad_input_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text_file = dir.path().join("readme.dll");
        std::fs::write(&text_file, "This is not a DLL.\r\n").expect("written");
        let error = run(super::super::InspectArgs { dll: text_file.clone(), json: false })
            .expect_err("not a PE image");
        let message = format!("{error:#}");
        assert!(
            message.starts_with(&format!(
                "`{}` is not a PE image (no MZ signature",
                text_file.display()
            )),
            "{message}"
        );
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("absent.dll");
        let error = run(super::super::InspectArgs { dll: missing.clone(), json: false })
            .expect_err("missing file");
        let message = format!("{error:#}");
        assert!(
            message.starts_with(&format!("cannot read `{}`: ", missing.display())),
            "{message}"
        );
        assert!(message.ends_with("(a regular file you may read)"), "{message}");
    }
}
