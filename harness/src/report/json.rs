//! The `--json` contract: every command's document starts with `schema_version`, then the
//! command's own fields, and each command has a JSON Schema generated from the types that
//! serialise it, kept in the repository's `schema/` (README.md, "The JSON contract").
//!
//! The version is one constant and the envelope one type, so no command can forget it and no
//! two can disagree. What the version promises: an addition (a field, a value of an enum)
//! keeps it, and a consumer ignores what it does not know; a removal, a rename or a changed
//! type raises it.

use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};
use serde::Serialize;

use crate::report::StartReport;
use crate::report::diagnose::Diagnosis;
use crate::report::doctor::DoctorReport;
use crate::report::inspect::InspectReport;
use crate::report::matrix::MatrixReport;
use crate::report::repro::Replay;

/// The contract's version: raised by a removal, a rename or a changed type, never by an
/// addition.
pub const SCHEMA_VERSION: u32 = 1;

/// One command's `--json` document: the contract's version, then the command's fields.
#[derive(Serialize, JsonSchema)]
struct Document<T> {
    /// The version of this contract: additions (new fields, new enum values) keep it, and a
    /// consumer ignores what it does not know; removals, renames and type changes raise it.
    #[schemars(extend("const" = SCHEMA_VERSION))]
    schema_version: u32,
    #[serde(flatten)]
    body: T,
}

/// A command's `--json` document, as it is printed.
pub fn render<T: Serialize>(body: &T) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&Document { schema_version: SCHEMA_VERSION, body })
}

/// The commands with a `--json` document, each with the file its schema is kept in under
/// `schema/`, and the schema generated from its type.
pub fn schemas() -> Vec<(&'static str, Schema)> {
    vec![
        ("start.json", schema_of::<StartReport>("start")),
        ("repro.json", schema_of::<Replay>("repro")),
        ("diagnose.json", schema_of::<Diagnosis>("diagnose")),
        ("matrix.json", schema_of::<MatrixReport<'static>>("matrix")),
        ("inspect.json", schema_of::<InspectReport<'static>>("inspect")),
        ("doctor.json", schema_of::<DoctorReport<'static>>("doctor")),
    ]
}

/// A schema as it is kept: pretty-printed, one newline at the end.
pub fn schema_text(schema: &Schema) -> String {
    serde_json::to_string_pretty(schema).expect("a schema is JSON") + "\n"
}

/// The schema of `command --json`: what serialising `T` in its [`Document`] writes.
fn schema_of<T: JsonSchema>(command: &str) -> Schema {
    let mut schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .with_transform(RecursiveTransform(allow_additions))
        .into_generator()
        .into_root_schema_for::<Document<T>>();
    schema.insert("title".to_owned(), format!("isapi-harness {command} --json").into());
    schema
}

/// A scenario file refuses fields it does not know (`deny_unknown_fields`, so that a typo is no
/// silent pin), but the same types in a document follow the contract: a later version may add
/// a field, which a consumer ignores, so no object of a schema is closed.
fn allow_additions(schema: &mut Schema) {
    if schema.get("additionalProperties") == Some(&serde_json::Value::Bool(false)) {
        schema.remove("additionalProperties");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `schema/` holds what the types generate: a change of a `--json` type that is not
    /// regenerated (and reviewed as a diff of the contract) fails here.
    #[test]
    fn the_kept_schemas_are_the_generated_ones() {
        let kept = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema");
        let mut stale = Vec::new();
        for (file, schema) in schemas() {
            let path = kept.join(file);
            let same = std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                == Some(schema.to_value());
            if !same {
                stale.push(format!("schema/{file}"));
            }
        }
        assert!(
            stale.is_empty(),
            "{} differ from the schemas the types generate; run `cargo xtask schema` and review the diff (README.md, \"The JSON contract\": a removal, a rename or a changed type raises SCHEMA_VERSION)",
            stale.join(", ")
        );
    }

    #[test]
    fn every_document_starts_with_its_version() {
        #[derive(Serialize)]
        struct Body {
            answer: u32,
        }
        let text = render(&Body { answer: 42 }).unwrap();
        assert_eq!(text, "{\n  \"schema_version\": 1,\n  \"answer\": 42\n}");
    }
}
