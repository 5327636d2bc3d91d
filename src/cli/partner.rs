//! `tracewire partner`: a partner's own view of what the hub did for it,
//! over the API with its certificate and client (the same as
//! `/v1/organization`): what is registered under it, the admin history that
//! concerns it, its communities' members, and confirming credentials the
//! hub added.
use crate::client::{ApiClient, ConnectArgs};
use anyhow::bail;
use awc::http::Method;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct PartnerArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: PartnerCommand,
}

#[derive(Debug, Subcommand)]
pub enum PartnerCommand {
    /// Your organization's certificates (fingerprints), API clients
    /// (scopes) and communities; pending ones show `pending_until`.
    Show,
    /// Every admin action that concerns your organization, from the audit chain.
    History,
    /// The members of a community you belong to, with when each was added.
    Members { community: String },
    /// Put in effect a certificate the hub registered for you.
    ConfirmCert { fingerprint: String },
    /// Put in effect an API client the hub created for you.
    ConfirmClient { id: String },
}

/// Runs the command and prints the server's JSON answer.
pub async fn run(args: PartnerArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(args.connect.resolve()?)?;
    let (method, path) = match &args.command {
        PartnerCommand::Show => (Method::GET, "/v1/organization".to_owned()),
        PartnerCommand::History => (Method::GET, "/v1/organization/history".to_owned()),
        PartnerCommand::Members { community } => {
            (Method::GET, format!("/v1/communities/{community}/members"))
        }
        PartnerCommand::ConfirmCert { fingerprint } => (
            Method::POST,
            format!("/v1/organization/certificates/{fingerprint}/confirm"),
        ),
        PartnerCommand::ConfirmClient { id } => (
            Method::POST,
            format!("/v1/organization/clients/{id}/confirm"),
        ),
    };
    let body = (method == Method::POST).then(|| serde_json::json!({}));
    let reply = client.send(method, &path, &[], body.as_ref()).await?;
    let text = serde_json::to_string_pretty(&reply.body)?;
    if !reply.status.is_success() {
        bail!("{path}: {} {text}", reply.status);
    }
    println!("{text}");
    Ok(())
}
