//! One API client per kubeconfig context, shared by every target and action of a run
//! (kubeconfig, a named context, or the in-cluster service account).

use std::sync::Arc;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use rotor_provider::{Clients, Error, Result};

/// The setting in the run's [`Clients`] naming the context `--context` chose for every
/// target and action without its own.
pub const CONTEXT_SETTING: &str = "kube-context";

pub(crate) type SharedClient = tokio::sync::OnceCell<(Client, String)>;

/// The shared cell for `context` (or the run's default) and the context it stands for.
pub(crate) fn cell(
    clients: &Clients,
    context: Option<&str>,
) -> (Arc<SharedClient>, Option<String>) {
    let context = context
        .or_else(|| clients.setting(CONTEXT_SETTING))
        .map(str::to_owned);
    let key = context.as_deref().unwrap_or("(current context)").to_owned();
    (clients.shared(&key, SharedClient::new), context)
}

/// The client for `context` (or the run's default), shared by every target and action of
/// the run, and the API server's address.
pub async fn client(clients: &Clients, context: Option<&str>) -> Result<(Client, String)> {
    let (cell, context) = cell(clients, context);
    connect(&cell, context).await
}

pub(crate) async fn connect(
    cell: &SharedClient,
    context: Option<String>,
) -> Result<(Client, String)> {
    cell.get_or_try_init(|| async {
        let where_ = context.as_deref().map_or_else(
            || "the current context".to_owned(),
            |c| format!("context `{c}`"),
        );
        let mut config = match &context {
            None => Config::infer().await.map_err(|e| Error::Config {
                location: "kubernetes".into(),
                detail: format!(
                    "no Kubernetes configuration: set KUBECONFIG or run in a cluster ({e})"
                ),
            })?,
            Some(c) => {
                let kubeconfig = Kubeconfig::read().map_err(|e| Error::Config {
                    location: "kubernetes".into(),
                    detail: format!("cannot read the kubeconfig: {e}"),
                })?;
                let options = KubeConfigOptions {
                    context: Some(c.clone()),
                    ..KubeConfigOptions::default()
                };
                Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| Error::Config {
                        location: "kubernetes".into(),
                        detail: format!("cannot use {where_} of the kubeconfig: {e}"),
                    })?
            }
        };
        // An API server that accepts a connection and never answers must not hang rotor
        // (and its lock): every request is bounded. rotor makes no watch or exec calls.
        config.connect_timeout = Some(std::time::Duration::from_secs(5));
        config.read_timeout = Some(REQUEST_TIMEOUT);
        config.write_timeout = Some(REQUEST_TIMEOUT);
        config.reset_reader_on_write = true;
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned();
        let client = Client::try_from(config).map_err(|e| Error::Config {
            location: format!("kubernetes at {server}"),
            detail: format!("cannot set up the Kubernetes client: {e}"),
        })?;
        Ok((client, server))
    })
    .await
    .cloned()
}

/// The longest a Kubernetes API request may take.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
