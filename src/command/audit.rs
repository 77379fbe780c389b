//! `rotor audit show` (filtered, verified lines), `rotor audit export` (with a chain
//! proof), `rotor audit verify` (the log, or an export against its proof) and `rotor audit
//! repair`.

use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::audit;
use crate::config::AuditFilter;
use crate::error::{AuditProblem, Error, Result};
use crate::output::Output;
use crate::state::StateDir;

/// `audit export`'s document.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Exported<'a> {
    pub file: &'a Path,
    pub proof: &'a Path,
    pub lines: usize,
    pub head: &'a str,
}

/// `audit verify --file`'s document.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct ExportChecked<'a> {
    pub file: &'a Path,
    pub lines: usize,
    pub chain_lines: usize,
    pub head: &'a str,
}

/// `audit verify`'s document.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Verified<'a> {
    pub path: &'a Path,
    pub verdict: &'a audit::Verdict,
}

/// `audit repair`'s document (`repair` is null when nothing was torn).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Repaired<'a> {
    pub repair: &'a Option<audit::Repair>,
}

/// The log's lines, and how many of them (from the first) the chain verifies.
fn read_log(state: &StateDir) -> Result<(Vec<String>, audit::Verdict)> {
    let path = state.audit_path();
    let file = match crate::state::open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Vec::new(), audit::verify_lines(&[], false)));
        }
        Err(e) => return Err(Error::io("cannot read", &path, e)),
    };
    let lines = std::io::BufReader::new(file)
        .lines()
        .collect::<std::io::Result<Vec<String>>>()
        .map_err(|e| Error::io("cannot read", &path, e))?;
    let verdict = audit::verify_lines(&lines, false);
    Ok((lines, verdict))
}

/// One line as `audit show` prints it: who, what, where, the fingerprints, why.
fn describe(v: &serde_json::Value, verified: bool) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    let mut text = format!(
        "{:>5} {} {} {} {} {}",
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
    let fps = |k: &str| {
        serde_json::from_value::<rotor_provider::Fingerprints>(v[k].clone())
            .ok()
            .map(|f| f.to_string())
    };
    match (fps("before"), fps("after")) {
        (Some(b), Some(a)) if b != a => text.push_str(&format!(" [{b}] -> [{a}]")),
        (_, Some(a)) => text.push_str(&format!(" [{a}]")),
        (Some(b), None) => text.push_str(&format!(" [{b}]")),
        (None, None) => {}
    }
    if let Some(id) = v["rotation_id"].as_str() {
        text.push_str(&format!(" rotation {id}"));
    }
    if let Some(r) = v["reason"].as_str() {
        text.push_str(&format!(" reason: {r}"));
    }
    if let Some(d) = v["detail"].as_str() {
        text.push_str(&format!(" ({d})"));
    }
    if !verified {
        text.push_str(" UNVERIFIED");
    }
    text
}

/// Says where the chain breaks and what that means for the lines after it.
fn say_break(verdict: &audit::Verdict, total: usize, shown: bool) {
    if let Some((line, why)) = &verdict.broken {
        let after = total.saturating_sub(verdict.lines as usize);
        rotor_provider::warn_line(&format!(
            "rotor: warning: the audit chain breaks at line {line} ({why}); {} line{} from there {}",
            after,
            if after == 1 { "" } else { "s" },
            if shown {
                "are shown marked UNVERIFIED"
            } else {
                "are left out (--unverified shows them)"
            }
        ));
    }
}

pub fn show(out: &Output, state: &StateDir, filter: &AuditFilter) -> Result<()> {
    let (lines, verdict) = read_log(state)?;
    say_break(&verdict, lines.len(), filter.unverified);
    let mut shown = 0;
    let mut stdout = std::io::stdout().lock();
    for (i, line) in lines.iter().enumerate() {
        let verified = (i as u64) < verdict.lines;
        if !verified && !filter.unverified {
            break;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or(json!({ "unparsable": true }));
        if !filter.keeps(&v) {
            continue;
        }
        shown += 1;
        if out.is_json() {
            // JSON Lines, each as stored: its hash still checks.
            writeln!(stdout, "{line}").map_err(|e| Error::io("writing to", "stdout", e))?;
        } else {
            out.line(&describe(&v, verified));
        }
    }
    if shown == 0 && !out.is_json() {
        out.line("no audit line matches");
    }
    // The lines are the output: no JSON document follows them.
    out.documented();
    Ok(())
}

/// `audit export`: the verified lines the filter keeps, verbatim, to `to`; the chain
/// from the first of them to the log's head, verbatim, to `to.chain`.
pub fn export(out: &Output, state: &StateDir, filter: &AuditFilter, to: &Path) -> Result<()> {
    if filter.unverified {
        return Err(Error::Usage(
            "audit export writes verified lines only: a proof of a broken chain proves nothing"
                .into(),
        ));
    }
    let (lines, verdict) = read_log(state)?;
    say_break(&verdict, lines.len(), false);
    let verified = &lines[..verdict.lines as usize];
    let picked: Vec<(usize, &String)> = verified
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| filter.keeps(&v))
        })
        .collect();
    let Some(&(first, _)) = picked.first() else {
        return Err(Error::Usage(
            "no verified audit line matches; nothing exported".into(),
        ));
    };
    let body: String = picked.iter().map(|(_, l)| format!("{l}\n")).collect();
    let chain: String = verified[first..].iter().map(|l| format!("{l}\n")).collect();
    let proof = chain_path(to);
    crate::state::write_atomic(to, body.as_bytes())?;
    crate::state::write_atomic(&proof, chain.as_bytes())?;
    out.line(&format!(
        "exported {} line{} to {}; chain proof {} (lines {} to {}, head {})",
        picked.len(),
        if picked.len() == 1 { "" } else { "s" },
        to.display(),
        proof.display(),
        first + 1,
        verified.len(),
        verdict.head
    ));
    out.report(
        "audit export",
        Exported {
            file: to,
            proof: &proof,
            lines: picked.len(),
            head: &verdict.head,
        },
    );
    Ok(())
}

/// Where an export's chain proof lies: beside it, `.chain` added.
fn chain_path(export: &Path) -> PathBuf {
    let mut name = export.file_name().unwrap_or_default().to_os_string();
    name.push(".chain");
    export.with_file_name(name)
}

/// `audit verify --file EXPORT`: the chain proof beside it is a chain (each line's hash,
/// seq and prev), and every exported line stands in it, byte for byte.
fn verify_export(out: &Output, export: &Path) -> Result<()> {
    let read = |p: &Path| -> Result<Vec<String>> {
        let f = crate::state::open_read(p).map_err(|e| Error::io("cannot read", p, e))?;
        std::io::BufReader::new(f)
            .lines()
            .collect::<std::io::Result<Vec<String>>>()
            .map_err(|e| Error::io("cannot read", p, e))
    };
    let proof = chain_path(export);
    let lines = read(export)?;
    let chain = read(&proof)?;
    let broken = |line: u64, why: String| Error::AuditLog {
        path: export.to_path_buf(),
        problem: AuditProblem::Broken {
            line,
            why,
            intact: line.saturating_sub(1),
        },
    };
    let verdict = audit::verify_lines(&chain, true);
    if let Some((line, why)) = verdict.broken {
        return Err(broken(
            line as u64,
            format!(
                "its chain proof {} breaks at its line {line}: {why}",
                proof.display()
            ),
        ));
    }
    let by_seq: std::collections::HashMap<u64, &String> = chain
        .iter()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((v["seq"].as_u64()?, l))
        })
        .collect();
    for (i, line) in lines.iter().enumerate() {
        let seq = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v["seq"].as_u64());
        let Some(seq) = seq else {
            return Err(broken(i as u64 + 1, "not an audit line".into()));
        };
        if by_seq.get(&seq).is_none_or(|c| *c != line) {
            return Err(broken(
                i as u64 + 1,
                format!(
                    "seq {seq} is not the line the chain proof holds there (edited, or not from this chain)"
                ),
            ));
        }
    }
    let start = chain
        .first()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            (
                v["seq"].as_u64().unwrap_or(0),
                v["prev"].as_str().unwrap_or("").to_owned(),
            )
        })
        .unwrap_or_default();
    out.line(&format!(
        "{}: {} lines verified against a chain of {} lines (from seq {} after {}, head {}); \
         compare the head with `rotor audit verify` where the log lives",
        export.display(),
        lines.len(),
        chain.len(),
        start.0,
        start.1,
        verdict.head
    ));
    out.report(
        "audit verify",
        ExportChecked {
            file: export,
            lines: lines.len(),
            chain_lines: chain.len(),
            head: &verdict.head,
        },
    );
    Ok(())
}

pub fn verify(out: &Output, state: &StateDir, file: Option<&Path>) -> Result<()> {
    if let Some(export) = file {
        return verify_export(out, export);
    }
    let path = state.audit_path();
    let verdict = audit::verify(&path)?;
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
    out.report("audit repair", Repaired { repair: &done });
    Ok(())
}
