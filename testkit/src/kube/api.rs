//! The test API server's request handling: discovery, access reviews, addressing, RBAC
//! and the verbs on objects, each answered as the Kubernetes API answers it.

use std::sync::Mutex;

use base64::Engine as _;
use serde_json::{Value, json};

use super::{RESOURCES, State, merge};
use crate::http::Request;

fn status(code: u16, reason: &str, message: &str) -> (u16, String) {
    (
        code,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason, "code": code
        })
        .to_string(),
    )
}

fn verb_of(method: &str, has_name: bool) -> &'static str {
    match (method, has_name) {
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        _ => "unknown",
    }
}

/// What a request addresses: `/{prefix}/namespaces/{ns}/{plural}[/{name}[/status]]`.
struct Addr {
    ns: String,
    plural: String,
    name: Option<String>,
    subresource: Option<String>,
    kind: &'static str,
    group: &'static str,
    api_version: &'static str,
}

impl Addr {
    fn key(&self, name: &str) -> (String, String, String) {
        (self.plural.clone(), self.ns.clone(), name.to_owned())
    }

    /// `.apps` after the plural of a grouped resource.
    fn dotted_group(&self) -> String {
        if self.group.is_empty() {
            String::new()
        } else {
            format!(".{}", self.group)
        }
    }

    fn not_found(&self, n: &str) -> (u16, String) {
        let message = format!("{}{} \"{n}\" not found", self.plural, self.dotted_group());
        status(404, "NotFound", &message)
    }

    fn conflict(&self, n: &str) -> (u16, String) {
        status(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {}{} \"{n}\": the object has been modified; please apply your changes to the latest version and try again",
                self.plural,
                self.dotted_group()
            ),
        )
    }
}

pub(super) fn handle(state: &Mutex<State>, req: &Request, port: u16) -> (u16, String) {
    let path = req.target.split('?').next().unwrap_or("").to_owned();
    // Discovery needs no token, like a cluster that allows system:discovery.
    if let Some(answer) = discovery(&path, port) {
        return answer;
    }
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let mut s = state.lock().unwrap();
    let Some(allowed) = s.tokens.get(&token).cloned() else {
        return status(401, "Unauthorized", "Unauthorized");
    };
    if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" && req.method == "POST" {
        return access_review(&s, &token, allowed.as_ref(), req);
    }
    let addr = match address(&s, &path) {
        Ok(a) => a,
        Err(answer) => return answer,
    };
    let verb = verb_of(&req.method, addr.name.is_some());
    if let Some(refused) = forbidden(&s, &token, allowed.as_ref(), &addr, verb) {
        return refused;
    }
    if !s.namespaces.contains(&addr.ns) {
        let message = format!("namespaces \"{}\" not found", addr.ns);
        return status(404, "NotFound", &message);
    }
    if verb != "get" && verb != "list" {
        let who = addr.name.clone().unwrap_or_default();
        let (plural, ns) = (addr.plural.clone(), addr.ns.clone());
        s.writes.push((verb.to_owned(), plural, ns, who));
    }
    match (req.method.as_str(), addr.name.clone()) {
        ("GET", None) => {
            let items: Vec<Value> = s
                .objects
                .iter()
                .filter(|((p, n, _), _)| *p == addr.plural && *n == addr.ns)
                .map(|(_, o)| o.clone())
                .collect();
            (
                200,
                json!({"kind": format!("{}List", addr.kind), "apiVersion": addr.api_version,
                       "metadata": {"resourceVersion": s.rv.to_string()}, "items": items})
                .to_string(),
            )
        }
        ("GET", Some(n)) => match s.objects.get(&addr.key(&n)) {
            Some(o) => (200, o.to_string()),
            None => addr.not_found(&n),
        },
        ("POST", None) => create(&mut s, req, &addr),
        ("PUT", Some(n)) | ("PATCH", Some(n)) => update(&mut s, req, &addr, &n),
        ("DELETE", Some(n)) => match s.objects.remove(&addr.key(&n)) {
            Some(_) => (
                200,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}})
                    .to_string(),
            ),
            None => addr.not_found(&n),
        },
        _ => status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method",
        ),
    }
}

/// The discovery documents (`/version`, `/api`, `/apis`, the resource lists).
fn discovery(path: &str, port: u16) -> Option<(u16, String)> {
    match path {
        "/version" => {
            Some((
                200,
                json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"})
                    .to_string(),
            ))
        }
        "/api" => {
            Some((
                200,
                json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": format!("127.0.0.1:{port}")}]})
                .to_string(),
            ))
        }
        "/apis" => {
            Some((
                200,
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [{
                    "name": "apps",
                    "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}, {
                    "name": "batch",
                    "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"}}]})
                .to_string(),
            ))
        }
        "/api/v1" | "/apis/apps/v1" | "/apis/batch/v1" => {
            let gv = path.trim_start_matches("/api/").trim_start_matches("/apis/");
            let verbs = ["create", "delete", "get", "list", "patch", "update"];
            let mut resources = Vec::new();
            for (prefix, plural, kind) in RESOURCES.iter().filter(|r| r.0 == path) {
                let _ = prefix;
                let short: &[&str] = match *plural {
                    "configmaps" => &["cm"],
                    "persistentvolumeclaims" => &["pvc"],
                    "deployments" => &["deploy"],
                    "statefulsets" => &["sts"],
                    "daemonsets" => &["ds"],
                    "cronjobs" => &["cj"],
                    _ => &[],
                };
                resources.push(json!({"name": plural, "singularName": kind.to_lowercase(),
                    "namespaced": true, "kind": kind, "verbs": verbs, "shortNames": short}));
                if super::is_workload(plural) {
                    resources.push(
                        json!({"name": format!("{plural}/status"), "singularName": "",
                        "namespaced": true, "kind": kind, "verbs": ["get", "patch", "update"]}),
                    );
                }
            }
            if path == "/api/v1" {
                resources.push(json!({"name": "namespaces", "singularName": "namespace",
                    "namespaced": false, "kind": "Namespace", "verbs": ["get", "list"]}));
            }
            Some((
                200,
                json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
                    .to_string(),
            ))
        }
        _ => None,
    }
}

/// "Can I?", which every authenticated user may ask about itself.
fn access_review(
    s: &State,
    token: &str,
    allowed: Option<&Vec<String>>,
    req: &Request,
) -> (u16, String) {
    let mut review: Value = serde_json::from_str(&req.body).unwrap_or_default();
    let a = &review["spec"]["resourceAttributes"];
    let text = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
    let (verb, group, resource, name) =
        (text("verb"), text("group"), text("resource"), text("name"));
    let by_verbs = allowed.is_none_or(|verbs| verbs.contains(&verb));
    let by_role = s.roles.get(token).is_none_or(|rules| {
        rules.iter().any(|r| {
            r.allows(
                &group,
                &resource,
                Some(name.as_str()).filter(|n| !n.is_empty()),
                &verb,
            )
        })
    });
    review["status"] = json!({ "allowed": by_verbs && by_role });
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectAccessReview");
    (201, review.to_string())
}

/// The object a path addresses, or the answer for a path that addresses none (a
/// namespace itself is answered here too).
fn address(s: &State, path: &str) -> Result<Addr, (u16, String)> {
    let none = || {
        status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    };
    let (prefix, rest) = ["/api/v1", "/apis/apps/v1", "/apis/batch/v1"]
        .iter()
        .find_map(|p| {
            path.strip_prefix(&format!("{p}/namespaces/"))
                .map(|r| (*p, r))
        })
        .ok_or_else(none)?;
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() == 1 {
        let ns = parts[0];
        return Err(if s.namespaces.contains(ns) {
            (
                200,
                json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": ns}})
                    .to_string(),
            )
        } else {
            status(404, "NotFound", &format!("namespaces \"{ns}\" not found"))
        });
    }
    let plural = parts[1].to_owned();
    let (_, _, kind) = RESOURCES
        .iter()
        .find(|(p, r, _)| *p == prefix && *r == plural)
        .ok_or_else(none)?;
    let (group, api_version) = match prefix {
        "/api/v1" => ("", "v1"),
        "/apis/batch/v1" => ("batch", "batch/v1"),
        _ => ("apps", "apps/v1"),
    };
    Ok(Addr {
        ns: parts[0].to_owned(),
        plural,
        name: parts.get(2).map(|n| n.to_string()),
        subresource: parts.get(3).map(|n| n.to_string()),
        kind,
        group,
        api_version,
    })
}

/// 403 when the token's verbs or its Role's rules do not allow `verb` on `addr`.
fn forbidden(
    s: &State,
    token: &str,
    allowed: Option<&Vec<String>>,
    addr: &Addr,
    verb: &str,
) -> Option<(u16, String)> {
    let Addr {
        plural,
        name,
        ns,
        group,
        ..
    } = addr;
    let by_role = s.roles.get(token).map(|rules| {
        rules
            .iter()
            .any(|r| r.allows(group, plural, name.as_deref(), verb))
    });
    let by_verbs = allowed.is_none_or(|verbs| verbs.iter().any(|v| v == verb));
    if by_role != Some(false) && by_verbs {
        return None;
    }
    let what = match name {
        Some(n) => format!("{plural} \"{n}\" is forbidden"),
        None => format!("{plural} is forbidden"),
    };
    Some(status(
        403,
        "Forbidden",
        &format!(
            "{what}: User \"{token}\" cannot {verb} resource \"{plural}\" in API group \"{group}\" in the namespace \"{ns}\""
        ),
    ))
}

/// POST: a new object, 409 when its name is taken.
fn create(s: &mut State, req: &Request, addr: &Addr) -> (u16, String) {
    let Ok(mut obj) = serde_json::from_str::<Value>(&req.body) else {
        return status(400, "BadRequest", "the body is not JSON");
    };
    let Some(n) = obj["metadata"]["name"].as_str().map(str::to_owned) else {
        return status(422, "Invalid", "metadata.name: Required value");
    };
    if s.objects.contains_key(&addr.key(&n)) {
        let message = format!("{} \"{n}\" already exists", addr.plural);
        return status(409, "AlreadyExists", &message);
    }
    s.rv += 1;
    normalize(&mut obj, addr.kind, addr.api_version, &addr.ns);
    obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
    obj["metadata"]["uid"] = json!(format!("uid-{}", s.rv));
    obj["metadata"]["creationTimestamp"] = json!("2026-11-24T00:00:00Z");
    if super::is_workload(&addr.plural) {
        obj["metadata"]["generation"] = json!(1);
    }
    s.objects.insert(addr.key(&n), obj.clone());
    (201, obj.to_string())
}

/// PUT or PATCH (merge patches) of object `n`: a `resourceVersion` in the body is a
/// precondition (409 when stale); a spec change bumps the generation; `/status` writes
/// the status only.
fn update(s: &mut State, req: &Request, addr: &Addr, n: &str) -> (u16, String) {
    let Some(stored) = s.objects.get(&addr.key(n)).cloned() else {
        return addr.not_found(n);
    };
    let Ok(body) = serde_json::from_str::<Value>(&req.body) else {
        return status(400, "BadRequest", "the body is not JSON");
    };
    let mut next = if req.method == "PUT" {
        body.clone()
    } else {
        let ct = req.header("content-type").unwrap_or("");
        if !(ct.contains("merge-patch") || ct.contains("strategic-merge-patch")) {
            return status(
                415,
                "UnsupportedMediaType",
                &format!("the patch type {ct} is not supported"),
            );
        }
        let mut merged = stored.clone();
        merge(&mut merged, &body);
        merged
    };
    if let Some(rv) = body["metadata"]["resourceVersion"].as_str()
        && rv != stored["metadata"]["resourceVersion"].as_str().unwrap_or("")
    {
        return addr.conflict(n);
    }
    if req.method == "PUT" && body["metadata"]["resourceVersion"].is_null() {
        return status(
            422,
            "Invalid",
            "metadata.resourceVersion: Invalid value: must be specified for an update",
        );
    }
    normalize(&mut next, addr.kind, addr.api_version, &addr.ns);
    for keep in ["uid", "creationTimestamp", "generation"] {
        next["metadata"][keep] = stored["metadata"][keep].clone();
    }
    if addr.subresource.as_deref() == Some("status") {
        let status_part = next["status"].clone();
        next = stored.clone();
        next["status"] = status_part;
    } else if super::is_workload(&addr.plural) {
        next["status"] = stored["status"].clone();
        if next["spec"] != stored["spec"] {
            let g = stored["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            next["metadata"]["generation"] = json!(g);
        }
    }
    if next["metadata"]["uid"].is_null() {
        next["metadata"].as_object_mut().unwrap().remove("uid");
    }
    s.rv += 1;
    next["metadata"]["resourceVersion"] = json!(s.rv.to_string());
    s.objects.insert(addr.key(n), next.clone());
    (200, next.to_string())
}

fn normalize(obj: &mut Value, kind: &str, api_version: &str, ns: &str) {
    obj["kind"] = json!(kind);
    obj["apiVersion"] = json!(api_version);
    obj["metadata"]["namespace"] = json!(ns);
    if kind == "Secret" {
        if obj["type"].is_null() {
            obj["type"] = json!("Opaque");
        }
        if let Some(sd) = obj.get("stringData").and_then(|v| v.as_object()).cloned() {
            for (k, v) in sd {
                let enc =
                    base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or(""));
                obj["data"][k] = json!(enc);
            }
            obj.as_object_mut().unwrap().remove("stringData");
        }
    }
}
