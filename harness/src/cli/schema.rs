//! `isapi-harness schema DIR` (hidden; `cargo xtask schema` runs it): writes the JSON Schema of
//! every command's `--json` document, generated from the types that serialise it, into DIR.
//! The harness's own test compares them with the ones kept in the repository.

use std::process::ExitCode;

use anyhow::Context;

use crate::report::json;

pub fn run(args: super::SchemaArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot make the folder `{}`", args.dir.display()))?;
    for (file, schema) in json::schemas() {
        let path = args.dir.join(file);
        std::fs::write(&path, json::schema_text(&schema))
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
