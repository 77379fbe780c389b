//! "Can I?": a `SelfSubjectAccessReview` asks the API server whether rotor's credentials
//! may use a verb on one object, without using it (what `kubectl auth can-i` does).

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};

/// Whether `verb` on `group`/`resource` `name` in `namespace` is allowed; `Err` when the
/// API server could not be asked.
pub async fn can_i(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> Result<bool, String> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_owned()),
                group: Some(group.to_owned()),
                resource: Some(resource.to_owned()),
                namespace: Some(namespace.to_owned()),
                name: Some(name.to_owned()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let got = api
        .create(&PostParams::default(), &review)
        .await
        .map_err(|e| format!("cannot ask the API server (SelfSubjectAccessReview): {e}"))?;
    Ok(got.status.is_some_and(|s| s.allowed))
}

/// The verdict on `verbs` for one object: pass, or fail naming the verbs not allowed.
pub async fn verdict(
    client: &Client,
    verbs: &[&str],
    group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> rotor_provider::Verdict {
    let mut denied = Vec::new();
    for verb in verbs {
        match can_i(client, verb, group, resource, namespace, name).await {
            Ok(true) => {}
            Ok(false) => denied.push(*verb),
            Err(e) => return rotor_provider::Verdict::Fail(e),
        }
    }
    if denied.is_empty() {
        rotor_provider::Verdict::Pass
    } else {
        let what = if group.is_empty() {
            resource.to_owned()
        } else {
            format!("{resource}.{group}")
        };
        rotor_provider::Verdict::Fail(format!(
            "not allowed to {} {what} \"{name}\" in namespace {namespace}",
            denied.join(", ")
        ))
    }
}
