//! The conformance suite against the project's Kubernetes test API server, through the
//! real kube client.

use rotor_testkit::kube::Cluster;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn conformance() {
    let c = Cluster::start(&["payments"]);
    let kubeconfig = kube::config::Kubeconfig::read_from(c.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let sc: rotor_provider_kubernetes::SecretConfig =
        serde_json::from_value(json!({"namespace": "payments", "name": "conformance"})).unwrap();
    let p = rotor_provider_kubernetes::SecretTarget::with_client(&sc, client, c.server_url());
    rotor_testkit::conformance::run(&p).await;
}
