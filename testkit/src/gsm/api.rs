//! The REST v1 routes of the Secret Manager test server.

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::{Secret, State, Version, auth};
use crate::http::Request;

type Answer = (u16, String);

/// A `google.rpc.Status` error document.
pub(super) fn status(http: u16, code: &str, message: &str) -> Answer {
    (
        http,
        json!({ "error": { "code": http, "message": message, "status": code } }).to_string(),
    )
}

fn invalid(message: &str) -> Answer {
    status(400, "INVALID_ARGUMENT", message)
}

fn precondition(message: &str) -> Answer {
    status(400, "FAILED_PRECONDITION", message)
}

fn not_found(message: &str) -> Answer {
    status(404, "NOT_FOUND", message)
}

fn ok(v: Value) -> Answer {
    (200, v.to_string())
}

/// Percent-decoding of a path segment or query value.
pub(super) fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(x) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(x);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn time(t: u64) -> String {
    // A fixed day, one second per event: distinct, ordered RFC 3339 times.
    format!(
        "2026-12-01T{:02}:{:02}:{:02}.000000Z",
        (t / 3600) % 24,
        (t / 60) % 60,
        t % 60
    )
}

fn etag(n: u64) -> String {
    format!("\"{:014x}\"", 0x5ec0_0000_0000_u64 + n)
}

fn int_map(m: &BTreeMap<String, i64>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
            .collect(),
    )
}

fn str_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn secret_json(number: u64, id: &str, s: &Secret) -> Value {
    let mut v = json!({
        "name": format!("projects/{number}/secrets/{id}"),
        "replication": s.replication,
        "createTime": s.create_time,
        "etag": etag(s.etag),
    });
    if !s.labels.is_empty() {
        v["labels"] = str_map(&s.labels);
    }
    if !s.annotations.is_empty() {
        v["annotations"] = str_map(&s.annotations);
    }
    if !s.aliases.is_empty() {
        v["versionAliases"] = int_map(&s.aliases);
    }
    v
}

fn version_json(number: u64, id: &str, v: &Version) -> Value {
    let mut out = json!({
        "name": format!("projects/{number}/secrets/{id}/versions/{}", v.n),
        "createTime": v.create_time,
        "state": v.state,
        "etag": etag(v.etag),
        "replicationStatus": { "automatic": {} },
        "clientSpecifiedPayloadChecksum": true,
    });
    if let Some(t) = &v.destroy_time {
        out["destroyTime"] = json!(t);
    }
    out
}

/// The permission each call needs.
fn permission(method: &str, kind: &Route) -> Option<&'static str> {
    Some(match (kind, method) {
        (Route::Secrets, "GET") => "secretmanager.secrets.list",
        (Route::Secrets, "POST") => "secretmanager.secrets.create",
        (Route::Secret(None), "GET") => "secretmanager.secrets.get",
        (Route::Secret(None), "PATCH") => "secretmanager.secrets.update",
        (Route::Secret(None), "DELETE") => "secretmanager.secrets.delete",
        (Route::Secret(Some(v)), "POST") if v == "addVersion" => "secretmanager.versions.add",
        (Route::Secret(Some(v)), "POST") if v == "testIamPermissions" => return None,
        (Route::Versions, "GET") => "secretmanager.versions.list",
        (Route::Version(_, None), "GET") => "secretmanager.versions.get",
        (Route::Version(_, Some(v)), "GET") if v == "access" => "secretmanager.versions.access",
        (Route::Version(_, Some(v)), "POST") if v == "disable" => "secretmanager.versions.disable",
        (Route::Version(_, Some(v)), "POST") if v == "enable" => "secretmanager.versions.enable",
        (Route::Version(_, Some(v)), "POST") if v == "destroy" => "secretmanager.versions.destroy",
        _ => return Some("(no such call)"),
    })
}

#[derive(Debug)]
enum Route {
    Secrets,
    Secret(Option<String>),
    Versions,
    Version(String, Option<String>),
}

fn split_verb(seg: &str) -> (String, Option<String>) {
    match seg.split_once(':') {
        Some((a, b)) => (a.to_owned(), Some(b.to_owned())),
        None => (seg.to_owned(), None),
    }
}

pub(super) fn handle(state: &Mutex<State>, req: &Request) -> Answer {
    let (path, q) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let q = query(q);
    if path == "/token" {
        return auth::token(state, req);
    }
    if path.starts_with("/computeMetadata/") {
        return auth::metadata(state, req, path);
    }
    if path == "/_calls" {
        let s = state.lock().unwrap();
        let writes = s.calls.iter().filter(|(m, _)| m != "GET").count();
        return ok(json!({ "reads": s.calls.len() - writes, "writes": writes }));
    }
    let Some(rest) = path.strip_prefix("/v1/") else {
        return not_found(&format!(
            "The requested URL {path} was not found on this server."
        ));
    };
    let segs: Vec<String> = rest.split('/').map(decode).collect();
    let mut s = state.lock().unwrap();
    s.calls.push((req.method.clone(), path.to_owned()));
    if s.quota > 0 {
        s.quota -= 1;
        // The test server's 429 carries `Retry-After: 0`.
        return (429, "0".into());
    }
    if segs.len() < 3 || segs[0] != "projects" {
        return not_found(&format!(
            "The requested URL {path} was not found on this server."
        ));
    }
    let route = match segs.len() {
        3 if segs[2] == "secrets" => Route::Secrets,
        4 if segs[2] == "secrets" => {
            let (_, verb) = split_verb(&segs[3]);
            Route::Secret(verb)
        }
        5 if segs[2] == "secrets" && segs[4] == "versions" => Route::Versions,
        6 if segs[2] == "secrets" && segs[4] == "versions" => {
            let (v, verb) = split_verb(&segs[5]);
            Route::Version(v, verb)
        }
        _ => {
            return not_found(&format!(
                "The requested URL {path} was not found on this server."
            ));
        }
    };
    // Who is asking, and may they?
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let known = s.tokens.get(&token).cloned();
    let known = if s.allow_any_token {
        Some(known.flatten())
    } else {
        known
    };
    let Some(perms) = known else {
        return status(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        );
    };
    let Some(&number) = s.projects.get(&segs[1]).or_else(|| {
        let n: u64 = segs[1].parse().ok()?;
        s.projects.values().find(|v| **v == n)
    }) else {
        return status(
            403,
            "PERMISSION_DENIED",
            &format!("Permission denied on resource project {}.", segs[1]),
        );
    };
    let resource = segs.join("/");
    let resource = resource.split(':').next().unwrap_or("").to_owned();
    if let Some(p) = permission(&req.method, &route)
        && perms.as_ref().is_some_and(|set| !set.contains(p))
    {
        return status(
            403,
            "PERMISSION_DENIED",
            &format!("Permission '{p}' denied for resource '{resource}' (or it may not exist)."),
        );
    }
    let body: Value = if req.body.trim().is_empty() {
        json!({})
    } else {
        match serde_json::from_str(&req.body) {
            Ok(v) => v,
            Err(_) => return invalid("Invalid JSON payload received."),
        }
    };
    let id = segs.get(3).map(|s| split_verb(s).0).unwrap_or_default();
    match route {
        Route::Secrets => match req.method.as_str() {
            "POST" => create(&mut s, number, &q, &body),
            "GET" => {
                let list: Vec<Value> = s
                    .secrets
                    .iter()
                    .filter(|((p, _), _)| *p == number)
                    .map(|((_, id), sec)| secret_json(number, id, sec))
                    .collect();
                let n = list.len();
                ok(json!({ "secrets": list, "totalSize": n }))
            }
            _ => invalid("method"),
        },
        Route::Secret(verb) => {
            let key = (number, id.clone());
            if !s.secrets.contains_key(&key) {
                return not_found(&format!(
                    "Secret [projects/{number}/secrets/{id}] not found."
                ));
            }
            match (req.method.as_str(), verb.as_deref()) {
                ("GET", None) => ok(secret_json(number, &id, &s.secrets[&key])),
                ("PATCH", None) => patch(&mut s, key, &q, &body),
                ("DELETE", None) => {
                    let cur = etag(s.secrets[&key].etag);
                    if let Some(e) = q.get("etag").filter(|e| !e.is_empty())
                        && *e != cur
                    {
                        return precondition(
                            "The etag provided in the request does not match the current etag of the secret.",
                        );
                    }
                    s.secrets.remove(&key);
                    ok(json!({}))
                }
                ("POST", Some("addVersion")) => add_version(&mut s, key, &body),
                ("POST", Some("testIamPermissions")) => {
                    let asked = body["permissions"].as_array().cloned().unwrap_or_default();
                    let held: Vec<Value> = asked
                        .into_iter()
                        .filter(|p| {
                            p.as_str()
                                .is_some_and(|p| perms.as_ref().is_none_or(|set| set.contains(p)))
                        })
                        .collect();
                    if held.is_empty() {
                        ok(json!({}))
                    } else {
                        ok(json!({ "permissions": held }))
                    }
                }
                _ => not_found("no such method"),
            }
        }
        Route::Versions => {
            let key = (number, id.clone());
            let Some(sec) = s.secrets.get(&key) else {
                return not_found(&format!(
                    "Secret [projects/{number}/secrets/{id}] not found."
                ));
            };
            let size: usize = q
                .get("pageSize")
                .and_then(|p| p.parse().ok())
                .filter(|p| *p > 0)
                .unwrap_or(25000)
                .min(25000);
            let from: usize = q.get("pageToken").and_then(|t| t.parse().ok()).unwrap_or(0);
            let all: Vec<&Version> = sec.versions.iter().rev().collect();
            let page: Vec<Value> = all
                .iter()
                .skip(from)
                .take(size)
                .map(|v| version_json(number, &id, v))
                .collect();
            let mut out = json!({ "versions": page, "totalSize": all.len() });
            if from + size < all.len() {
                out["nextPageToken"] = json!((from + size).to_string());
            }
            if all.is_empty() {
                out = json!({});
            }
            ok(out)
        }
        Route::Version(v, verb) => version(
            &mut s,
            (number, id),
            &v,
            verb.as_deref(),
            &req.method,
            &body,
        ),
    }
}

fn check_map(
    m: &Map<String, Value>,
    what: &str,
    max: usize,
    key_ok: impl Fn(&str) -> bool,
) -> Result<(), Answer> {
    if m.len() > max {
        return Err(invalid(&format!("A secret may have at most {max} {what}.")));
    }
    for k in m.keys() {
        if !key_ok(k) {
            return Err(invalid(&format!("Invalid {what} key: {k}")));
        }
    }
    Ok(())
}

fn label_key(k: &str) -> bool {
    let b = k.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

fn annotation_key(k: &str) -> bool {
    let b = k.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn alias_name(k: &str) -> bool {
    let b = k.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        && k != "latest"
}

fn strings(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn create(s: &mut State, number: u64, q: &BTreeMap<String, String>, body: &Value) -> Answer {
    let Some(id) = q.get("secretId").filter(|i| !i.is_empty()) else {
        return invalid("secret_id is required.");
    };
    if id.len() > 255
        || !id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return invalid(&format!("Invalid secret id: {id}"));
    }
    let key = (number, id.clone());
    if s.secrets.contains_key(&key) {
        return status(
            409,
            "ALREADY_EXISTS",
            &format!("Secret [projects/{number}/secrets/{id}] already exists."),
        );
    }
    let replication = body.get("replication").cloned().unwrap_or(Value::Null);
    let valid = replication.get("automatic").is_some()
        || replication["userManaged"]["replicas"]
            .as_array()
            .is_some_and(|r| !r.is_empty() && r.iter().all(|x| x["location"].is_string()));
    if !valid {
        return invalid("Secret.replication must be set: automatic or user_managed with replicas.");
    }
    if let Some(m) = body.get("labels").and_then(Value::as_object)
        && let Err(e) = check_map(m, "labels", 64, label_key)
    {
        return e;
    }
    let t = s.stamp();
    let secret = Secret {
        create_time: time(t),
        labels: strings(&body["labels"]),
        annotations: strings(&body["annotations"]),
        etag: t,
        replication,
        ..Secret::default()
    };
    let out = secret_json(number, id, &secret);
    s.secrets.insert(key, secret);
    ok(out)
}

fn patch(s: &mut State, key: (u64, String), q: &BTreeMap<String, String>, body: &Value) -> Answer {
    let Some(mask) = q.get("updateMask").filter(|m| !m.is_empty()) else {
        return invalid("update_mask is required.");
    };
    let sec = &s.secrets[&key];
    if let Some(e) = body
        .get("etag")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        && *e != etag(sec.etag)
    {
        return precondition(
            "The etag provided in the request does not match the current etag of the secret.",
        );
    }
    let mut next = sec.clone();
    for path in mask.split(',') {
        match path.trim() {
            "labels" => {
                if let Some(m) = body.get("labels").and_then(Value::as_object)
                    && let Err(e) = check_map(m, "labels", 64, label_key)
                {
                    return e;
                }
                next.labels = strings(&body["labels"]);
            }
            "annotations" => {
                if let Some(m) = body.get("annotations").and_then(Value::as_object) {
                    if let Err(e) = check_map(m, "annotations", 1000, annotation_key) {
                        return e;
                    }
                    let size: usize = m
                        .iter()
                        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
                        .sum();
                    if size > 16 * 1024 {
                        return invalid("The total size of annotations must be less than 16KiB.");
                    }
                }
                next.annotations = strings(&body["annotations"]);
            }
            "versionAliases" | "version_aliases" => {
                let m = body
                    .get("versionAliases")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                if let Err(e) = check_map(&m, "version aliases", 50, alias_name) {
                    return e;
                }
                let mut aliases = BTreeMap::new();
                for (k, v) in &m {
                    let Some(n) = v.as_i64().or_else(|| v.as_str()?.parse().ok()) else {
                        return invalid(&format!("Invalid version number for alias {k}."));
                    };
                    match sec.version(n) {
                        Some(ver) if ver.state != "DESTROYED" => {}
                        Some(_) => {
                            return precondition(&format!(
                                "Alias {k} cannot be assigned to version {n}: it is destroyed."
                            ));
                        }
                        None => {
                            return invalid(&format!(
                                "Alias {k} refers to version {n}, which does not exist."
                            ));
                        }
                    }
                    aliases.insert(k.clone(), n);
                }
                next.aliases = aliases;
            }
            "topics" | "rotation" | "expireTime" | "ttl" | "versionDestroyTtl" => {}
            other => return invalid(&format!("Invalid update_mask path: {other}")),
        }
    }
    next.etag = s.stamp();
    let out = secret_json(key.0, &key.1, &next);
    s.secrets.insert(key, next);
    ok(out)
}

fn crc32c(data: &[u8]) -> u32 {
    crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(data)
}

fn add_version(s: &mut State, key: (u64, String), body: &Value) -> Answer {
    let Some(data) = body["payload"]["data"].as_str() else {
        return invalid("SecretPayload.data is required.");
    };
    let Ok(data) = base64::engine::general_purpose::STANDARD.decode(data) else {
        return invalid("Invalid value at 'payload.data' (TYPE_BYTES), Base64 decoding failed.");
    };
    if data.len() > 65536 {
        return invalid("Secret Payload cannot be larger than 64KiB.");
    }
    let crc = &body["payload"]["dataCrc32c"];
    if !crc.is_null() {
        let given = crc.as_u64().or_else(|| crc.as_str()?.parse().ok());
        if given != Some(u64::from(crc32c(&data))) {
            return invalid("Checksum mismatch. Data corruption detected.");
        }
    }
    let t = s.stamp();
    let moves = s.etag_moves_on_add;
    let sec = s.secrets.get_mut(&key).unwrap();
    let n = sec.versions.last().map_or(1, |v| v.n + 1);
    let v = Version {
        n,
        state: "ENABLED",
        data,
        create_time: time(t),
        destroy_time: None,
        etag: t,
    };
    let out = version_json(key.0, &key.1, &v);
    sec.versions.push(v);
    if moves {
        sec.etag = t;
    }
    ok(out)
}

fn version(
    s: &mut State,
    key: (u64, String),
    v: &str,
    verb: Option<&str>,
    method: &str,
    body: &Value,
) -> Answer {
    let (number, id) = (key.0, key.1.clone());
    let Some(sec) = s.secrets.get(&key) else {
        return not_found(&format!(
            "Secret [projects/{number}/secrets/{id}] not found or has no versions."
        ));
    };
    let n = if v == "latest" {
        sec.versions.last().map(|v| v.n)
    } else if let Ok(n) = v.parse::<i64>() {
        Some(n)
    } else {
        sec.aliases.get(v).copied()
    };
    let name = format!("projects/{number}/secrets/{id}/versions/{v}");
    let Some(n) = n.filter(|n| sec.version(*n).is_some()) else {
        return if v == "latest" {
            not_found(&format!(
                "Secret [projects/{number}/secrets/{id}] not found or has no versions."
            ))
        } else {
            not_found(&format!("Secret Version [{name}] not found."))
        };
    };
    let ver = sec.version(n).unwrap().clone();
    let full = format!("projects/{number}/secrets/{id}/versions/{n}");
    match (method, verb) {
        ("GET", None) => ok(version_json(number, &id, &ver)),
        ("GET", Some("access")) => {
            if ver.state != "ENABLED" {
                return precondition(&format!(
                    "Secret Version [{full}] is in {} state.",
                    ver.state
                ));
            }
            ok(json!({
                "name": full,
                "payload": {
                    "data": base64::engine::general_purpose::STANDARD.encode(&ver.data),
                    "dataCrc32c": crc32c(&ver.data).to_string(),
                }
            }))
        }
        ("POST", Some(action @ ("disable" | "enable" | "destroy"))) => {
            if let Some(e) = body
                .get("etag")
                .and_then(Value::as_str)
                .filter(|e| !e.is_empty())
                && *e != etag(ver.etag)
            {
                return precondition(
                    "The etag provided in the request does not match the current etag of the secret version.",
                );
            }
            if ver.state == "DESTROYED" {
                return precondition(&format!("Secret Version [{full}] is in DESTROYED state."));
            }
            let t = s.stamp();
            let sec = s.secrets.get_mut(&key).unwrap();
            let ver = sec.versions.iter_mut().find(|x| x.n == n).unwrap();
            match action {
                "disable" => ver.state = "DISABLED",
                "enable" => ver.state = "ENABLED",
                _ => {
                    ver.state = "DESTROYED";
                    ver.data.clear();
                    ver.destroy_time = Some(time(t));
                }
            }
            ver.etag = t;
            ok(version_json(number, &id, ver))
        }
        _ => not_found("no such method"),
    }
}
