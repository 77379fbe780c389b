//! `rotor audit show`, `rotor audit verify` and `rotor audit repair`.

use std::io::BufRead;

use serde_json::json;

use crate::audit;
use crate::error::{AuditProblem, Error, Result};
use crate::output::Output;
use crate::state::StateDir;

/// `audit show --output json`: the entries as stored.
#[derive(serde::Serialize)]
struct Entries<'a> {
    entries: &'a [serde_json::Value],
}

pub fn show(out: &Output, state: &StateDir) -> Result<()> {
    let path = state.audit_path();
    let file = match crate::state::open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            out.line("the audit log is empty");
            out.report("audit show", Entries { entries: &[] });
            return Ok(());
        }
        Err(e) => return Err(Error::io("cannot read", &path, e)),
    };
    let mut entries = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| Error::io("cannot read", &path, e))?;
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or(json!({ "unparsable": line }));
        let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
        let mut text = format!(
            "{:>4} {} {} {} {} {}",
            v["seq"],
            s("time"),
            s("actor"),
            s("command"),
            s("secret"),
            s("step")
        );
        if let Some(t) = v["target"].as_str() {
            text.push_str(&format!(" {t}"));
        }
        text.push_str(&format!(": {}", s("outcome")));
        if let Some(a) = v.get("after").filter(|a| !a.is_null()) {
            text.push_str(&format!(" {a}"));
        }
        out.line(&text);
        entries.push(v);
    }
    out.report("audit show", Entries { entries: &entries });
    Ok(())
}

pub fn verify(out: &Output, state: &StateDir) -> Result<()> {
    let path = state.audit_path();
    let verdict = audit::verify(&path)?;
    #[derive(serde::Serialize)]
    struct Verified<'a> {
        path: &'a std::path::Path,
        verdict: &'a audit::Verdict,
    }
    out.report(
        "audit verify",
        Verified {
            path: &path,
            verdict: &verdict,
        },
    );
    match verdict.broken {
        None => {
            out.line(&format!(
                "{}: intact, {} lines, head {}",
                path.display(),
                verdict.lines,
                verdict.head
            ));
            Ok(())
        }
        Some((line, why)) => Err(Error::AuditLog {
            path: path.to_path_buf(),
            problem: AuditProblem::Broken {
                line: line as u64,
                why: why.to_string(),
                intact: verdict.lines as u64,
            },
        }),
    }
}

pub fn repair(out: &Output, state: &StateDir) -> Result<()> {
    let done = audit::repair(state)?;
    match &done {
        None => out.line("the audit log has no torn line; nothing to repair"),
        Some(r) => match &r.moved_to {
            Some(p) => out.line(&format!(
                "set aside a torn last line of {} bytes in {}; the repair is recorded in the chain",
                r.bytes,
                p.display()
            )),
            None => out.line("added the line end a crash cut off; recorded in the chain"),
        },
    }
    #[derive(serde::Serialize)]
    struct Repaired<'a, R> {
        repair: &'a R,
    }
    out.report("audit repair", Repaired { repair: &done });
    Ok(())
}
