//! The bodies of Slack and Teams messages, from a run's CloudEvent.

use serde_json::{Value, json};

/// A one-line summary: `payments-jwt: phase stage written (current=… pending=…)`.
fn summary(ev: &Value) -> String {
    let d = &ev["data"];
    let what = match ev["type"].as_str().unwrap_or_default() {
        "rotor.rotation.started" => format!("{} started", d["operation"].as_str().unwrap_or("run")),
        "rotor.phase.written" => format!("{} written", d["step"].as_str().unwrap_or_default()),
        "rotor.monitor.satisfied" => {
            format!("{} satisfied", d["step"].as_str().unwrap_or_default())
        }
        "rotor.monitor.timed_out" => {
            format!("{} timed out", d["step"].as_str().unwrap_or_default())
        }
        "rotor.rotation.completed" => "completed".into(),
        "rotor.rotation.rolled_back" => "rolled back".into(),
        "rotor.rotation.failed" => format!("failed at {}", d["step"].as_str().unwrap_or_default()),
        other => other.to_owned(),
    };
    let keys = fingerprints(&d["after"]);
    format!(
        "{}: {what}{}",
        d["secret"].as_str().unwrap_or_default(),
        if keys.is_empty() {
            String::new()
        } else {
            format!(" ({keys})")
        }
    )
}

fn fingerprints(v: &Value) -> String {
    ["current", "pending", "previous"]
        .iter()
        .filter_map(|s| v[s].as_str().map(|f| format!("{s}={f}")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn context(ev: &Value) -> String {
    let d = &ev["data"];
    let mut parts = vec![
        format!("rotation {}", d["rotation_id"].as_str().unwrap_or_default()),
        format!("by {}", d["actor"].as_str().unwrap_or_default()),
    ];
    if let Some(r) = d["reason"].as_str() {
        parts.push(format!("reason: {r}"));
    }
    parts.join(" · ")
}

pub(super) fn slack(ev: &Value) -> Value {
    let text = summary(ev);
    json!({
        "text": text,
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": format!("*rotor* {text}") } },
            { "type": "context", "elements": [ { "type": "mrkdwn", "text": context(ev) } ] }
        ]
    })
}

pub(super) fn teams(ev: &Value) -> Value {
    let d = &ev["data"];
    let mut facts = vec![
        json!({ "title": "Secret", "value": d["secret"] }),
        json!({ "title": "Rotation", "value": d["rotation_id"] }),
        json!({ "title": "By", "value": d["actor"] }),
    ];
    if d["reason"].is_string() {
        facts.push(json!({ "title": "Reason", "value": d["reason"] }));
    }
    let keys = fingerprints(&d["after"]);
    if !keys.is_empty() {
        facts.push(json!({ "title": "Keys", "value": keys }));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    { "type": "TextBlock", "text": summary(ev), "weight": "Bolder", "wrap": true },
                    { "type": "FactSet", "facts": facts }
                ]
            }
        }]
    })
}
