//! `tracewire admin …`: partner administration for the hub operator, on
//! the server, against the configured database. Prints JSON.
use crate::api::admin::{
    ApiClientView, CertificateView, CommunityView, OrganizationView, SigningKeyView,
};
use crate::auth::keys;
use crate::config::Settings;
use crate::domain::{
    parse_display_name, ClientId, CommunityId, OrganizationId, OrganizationType, Scopes,
};
use crate::partners;
use crate::storage::organizations::NewOrganization;
use crate::storage::{communities, organizations, signing_keys};
use anyhow::Context;
use clap::Subcommand;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Client certificates registered to organizations.
    #[command(subcommand)]
    Cert(CertCommand),
    /// API clients (OAuth clients) and their scopes.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Communities: named groups of organizations.
    #[command(subcommand)]
    Community(CommunityCommand),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Register an organization.
    Add {
        /// Stable id (a-z, 0-9, '-'), e.g. acme-forensics.
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// forensics, ngo, exchange, law_enforcement, hub or other.
        #[arg(long = "type")]
        org_type: String,
        /// Map certificates issued by the hub CA with exactly this subject (e.g. "O=Acme, CN=acme") to the organization.
        #[arg(long)]
        subject: Option<String>,
    },
    /// List organizations.
    List,
    /// Disable an organization: its certificates and tokens stop working.
    Disable { id: String },
    /// Re-enable an organization.
    Enable { id: String },
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Register a client certificate (PEM file) to an organization.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// List an organization's certificates.
    List {
        #[arg(long)]
        org: String,
    },
    /// Withdraw a registration by SHA-256 fingerprint (hex).
    Revoke { fingerprint: String },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create an API client.
    Add {
        #[arg(long)]
        org: String,
        /// The client_id (a-z, 0-9, '-').
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// Space-separated: indicators:read indicators:write sightings:write admin.
        #[arg(long)]
        scopes: String,
    },
    /// List an organization's API clients.
    List {
        #[arg(long)]
        org: String,
    },
    /// Disable a client: its tokens stop working.
    Disable { id: String },
    /// Re-enable a client.
    Enable { id: String },
}

#[derive(Debug, Subcommand)]
pub enum CommunityCommand {
    /// Create a community.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List communities with their members.
    List,
    /// Add an organization to a community.
    AddMember {
        community: String,
        organization: String,
    },
    /// Remove an organization from a community.
    RemoveMember {
        community: String,
        organization: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List published signing keys.
    List,
    /// Start signing with a new key; the old one verifies until its tokens expire.
    Rotate,
}

fn print<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn views<T, V: From<T>>(items: Vec<T>) -> Vec<V> {
    items.into_iter().map(V::from).collect()
}

pub fn run(settings: &Settings, command: AdminCommand) -> anyhow::Result<()> {
    let db = crate::startup::open_database(settings)?;
    let mut conn = db.get()?;
    let conn = &mut *conn;
    // Every change made here is audited as the operator's.
    let actor = crate::audit::Actor::command_line();
    let notice = settings.auth.credential_notice();
    match command {
        AdminCommand::Org(OrgCommand::Add {
            id,
            name,
            org_type,
            subject,
        }) => {
            let new = NewOrganization {
                id: OrganizationId::parse(&id)?,
                name: parse_display_name("name", &name, 200)?,
                org_type: org_type.parse::<OrganizationType>()?,
                certificate_subject: subject,
            };
            print(&OrganizationView::from(partners::create_organization(
                conn, &actor, new,
            )?))
        }
        AdminCommand::Org(OrgCommand::List) => {
            print(&views::<_, OrganizationView>(organizations::list(conn)?))
        }
        AdminCommand::Org(OrgCommand::Disable { id }) => print(&OrganizationView::from(
            partners::set_organization_disabled(conn, &actor, &OrganizationId::parse(&id)?, true)?,
        )),
        AdminCommand::Org(OrgCommand::Enable { id }) => print(&OrganizationView::from(
            partners::set_organization_disabled(conn, &actor, &OrganizationId::parse(&id)?, false)?,
        )),
        AdminCommand::Cert(CertCommand::Add { org, file }) => {
            let pem = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            print(&CertificateView::from(partners::register_certificate(
                conn,
                &actor,
                &OrganizationId::parse(&org)?,
                &pem,
                notice,
            )?))
        }
        AdminCommand::Cert(CertCommand::List { org }) => print(&views::<_, CertificateView>(
            partners::certificates_of(conn, &OrganizationId::parse(&org)?)?,
        )),
        AdminCommand::Cert(CertCommand::Revoke { fingerprint }) => print(&CertificateView::from(
            partners::revoke_certificate(conn, &actor, &fingerprint)?,
        )),
        AdminCommand::Client(ClientCommand::Add {
            org,
            id,
            name,
            scopes,
        }) => {
            let client = partners::create_client(
                conn,
                &actor,
                &OrganizationId::parse(&org)?,
                ClientId::parse(&id)?,
                parse_display_name("name", &name, 200)?,
                Scopes::parse(&scopes)?,
                notice,
            )?;
            print(&ApiClientView::from(client))
        }
        AdminCommand::Client(ClientCommand::List { org }) => print(&views::<_, ApiClientView>(
            partners::clients_of(conn, &OrganizationId::parse(&org)?)?,
        )),
        AdminCommand::Client(ClientCommand::Disable { id }) => print(&ApiClientView::from(
            partners::set_client_disabled(conn, &actor, &ClientId::parse(&id)?, true)?,
        )),
        AdminCommand::Client(ClientCommand::Enable { id }) => print(&ApiClientView::from(
            partners::set_client_disabled(conn, &actor, &ClientId::parse(&id)?, false)?,
        )),
        AdminCommand::Community(CommunityCommand::Add {
            id,
            name,
            description,
        }) => {
            let community = partners::create_community(
                conn,
                &actor,
                &CommunityId::parse(&id)?,
                &parse_display_name("name", &name, 200)?,
                &description,
            )?;
            print(&CommunityView::from(community))
        }
        AdminCommand::Community(CommunityCommand::List) => {
            print(&views::<_, CommunityView>(communities::list(conn)?))
        }
        AdminCommand::Community(CommunityCommand::AddMember {
            community,
            organization,
        }) => print(&CommunityView::from(partners::add_community_member(
            conn,
            &actor,
            &CommunityId::parse(&community)?,
            &OrganizationId::parse(&organization)?,
        )?)),
        AdminCommand::Community(CommunityCommand::RemoveMember {
            community,
            organization,
        }) => print(&CommunityView::from(partners::remove_community_member(
            conn,
            &actor,
            &CommunityId::parse(&community)?,
            &OrganizationId::parse(&organization)?,
        )?)),
        AdminCommand::Keys(KeysCommand::List) => {
            let keep =
                keys::retired_key_lifetime(settings.auth.token_ttl_secs, settings.auth.leeway_secs);
            let rows = signing_keys::list_usable(conn, crate::storage::now() - keep)?;
            print(
                &rows
                    .into_iter()
                    .map(SigningKeyView::from)
                    .collect::<Vec<_>>(),
            )
        }
        AdminCommand::Keys(KeysCommand::Rotate) => {
            let encryption = crate::auth::key_encryption::KeyEncryption::configure(
                settings.auth.key_encryption_key_file.as_deref(),
                &settings.auth.previous_key_encryption_key_files,
            )?;
            let k = partners::rotate_signing_key(
                conn,
                &actor,
                &settings.auth.signing_algorithm,
                &encryption,
            )?;
            print(&SigningKeyView::from(k))
        }
    }
}
