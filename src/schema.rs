//! The one JSON contract: every `--output json` document carries `"schema": "rotor/v1"`
//! and follows the JSON Schema [`document`] builds from the very types the documents are
//! serialized from (`rotor schema` prints it; `schema/rotor-v1.schema.json` is the
//! committed copy, which a test compares with the binary's). `audit show --output json`
//! is the exception: JSON Lines, each an audit line as stored.

use schemars::SchemaGenerator;
use serde_json::{Value, json};

use crate::command::{audit, batch, check, status};

/// The schema every document names.
pub const ID: &str = "rotor/v1";

/// The commands of each kind of document, and the report types their success takes.
fn bodies(generator: &mut SchemaGenerator) -> Vec<(Vec<&'static str>, Vec<Value>)> {
    let of = |schemas: Vec<schemars::Schema>| -> Vec<Value> {
        schemas.into_iter().map(|s| s.to_value()).collect()
    };
    let run = generator.subschema_for::<crate::command::RunReport<'static>>();
    let planned = generator.subschema_for::<batch::Planned<'static>>();
    let status = generator.subschema_for::<status::StatusReport>();
    let check = generator.subschema_for::<check::Checked<'static>>();
    let verified = generator.subschema_for::<audit::Verified<'static>>();
    let export_checked = generator.subschema_for::<audit::ExportChecked<'static>>();
    let exported = generator.subschema_for::<audit::Exported<'static>>();
    let repaired = generator.subschema_for::<audit::Repaired<'static>>();
    vec![
        (
            vec!["rotate", "retire-previous", "rollback", "resume"],
            // A run's outcomes, or a dry run's plan.
            of(vec![run, planned.clone()]),
        ),
        (vec!["plan"], of(vec![planned])),
        (vec!["status"], of(vec![status])),
        (vec!["check"], of(vec![check])),
        (vec!["audit verify"], of(vec![verified, export_checked])),
        (vec!["audit export"], of(vec![exported])),
        (vec!["audit repair"], of(vec![repaired])),
        // Commands whose output is not a document, but whose failure is one.
        (
            vec!["audit show", "completions", "man", "schema"],
            Vec::new(),
        ),
    ]
}

/// The JSON Schema (draft 2020-12) of every document.
pub fn document() -> Value {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let bodies = bodies(&mut generator);
    let failure = generator
        .subschema_for::<crate::error::Failure>()
        .to_value();
    let commands: Vec<&str> = bodies.iter().flat_map(|(c, _)| c.iter().copied()).collect();
    let rules: Vec<Value> = bodies
        .iter()
        .map(|(cmds, schemas)| {
            let mut any = schemas.clone();
            // Any command may end in an error before its result.
            any.push(failure.clone());
            json!({
                "if": { "properties": { "command": { "enum": cmds } } },
                "then": { "anyOf": any }
            })
        })
        .collect();
    let defs: serde_json::Map<String, Value> =
        generator.take_definitions(true).into_iter().collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": ID,
        "description": "Every document rotor prints with --output json (audit show --output json prints JSON Lines, each an audit line as stored). Fields may be added within rotor/v1; none is removed or changes meaning.",
        "type": "object",
        "required": ["schema", "command"],
        "properties": {
            "schema": { "const": ID },
            "command": { "enum": commands }
        },
        "allOf": rules,
        "$defs": defs
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_has_its_definition() {
        let doc = document();
        let text = doc.to_string();
        let defs = doc["$defs"].as_object().unwrap();
        for part in text.split("\"$ref\":\"#/$defs/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(defs.contains_key(name), "no definition of {name}");
        }
        assert!(defs.len() > 10, "{defs:?}");
    }
}
