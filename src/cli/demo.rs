//! `tracewire demo`: a ready-to-try deployment on the embedded database.
//!
//! Creates (or reuses) a directory with a dev CA, a server certificate,
//! a hub and three partner organizations (a forensics firm, an NGO, an
//! exchange) with client certificates and API clients, writes `demo.json`
//! and `tracewire.toml` there, prints curl lines that work as shown, and
//! starts the server.
use super::pki::{load_ca, write_issued, write_private};
use crate::config::Settings;
use crate::domain::{ClientId, CommunityId, OrganizationId, OrganizationType, Scopes};
use crate::partners::{self, AdminError};
use crate::pki::CertificateAuthority;
use crate::storage::organizations::NewOrganization;
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the demo's certificates, database and files (created or reused).
    #[arg(long, default_value = "tracewire-demo")]
    pub dir: PathBuf,
    /// API listener address.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: String,
    /// Operations listener address.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub ops_listen: String,
    /// Prepare everything and print the curl lines, but do not start the server.
    #[arg(long)]
    pub setup_only: bool,
}

struct DemoOrganization {
    id: &'static str,
    name: &'static str,
    org_type: OrganizationType,
    client: &'static str,
    scopes: &'static str,
}

const ORGANIZATIONS: [DemoOrganization; 4] = [
    DemoOrganization {
        id: "tracewire-hub",
        name: "Tracewire Hub (demo)",
        org_type: OrganizationType::Hub,
        client: "hub-admin",
        scopes: "admin indicators:read indicators:write",
    },
    DemoOrganization {
        id: "acme-forensics",
        name: "Acme Chain Forensics",
        org_type: OrganizationType::Forensics,
        client: "acme-forensics-analyst",
        scopes: "indicators:read indicators:write sightings:write",
    },
    DemoOrganization {
        id: "safe-harbor",
        name: "Safe Harbor Anti-Trafficking Network",
        org_type: OrganizationType::Ngo,
        client: "safe-harbor-analyst",
        scopes: "indicators:read indicators:write sightings:write",
    },
    DemoOrganization {
        id: "northwind-exchange",
        name: "Northwind Exchange",
        org_type: OrganizationType::Exchange,
        client: "northwind-screening",
        scopes: "indicators:read sightings:write",
    },
];

/// Northwind's customer deposit addresses, to try `tracewire screen` on:
/// Acme's AMBER+STRICT record shared with Northwind (typed with its EIP-55
/// checksum), an OFAC-listed address, Acme's RED record for Safe Harbor
/// (no match for Northwind), Safe Harbor's anonymous report to the working
/// group (a match with no source named), and two addresses nobody filed.
const SAMPLE_CUSTOMERS: &str = "# Northwind Exchange: customer deposit addresses\n\
    0x52908400098527886E0F7030069857D2E4169EE7\n\
    0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1\n\
    bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq\n\
    1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2\n\
    0x00000000000000000000000000000000000000a1\n\
    bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4\n";

/// A file to try `tracewire import` on: two good lines and one that is not
/// an address (reported, not stored).
const SAMPLE_IMPORT: &str = "chain,address,categories,confidence,description\n\
    eth,0x00000000219ab540356cbb839cbe05303d7705fa,scam,40,Address in a fake job ad\n\
    btc,1BoatSLRHtKNngkdXEeobR76b53LETtpyT,human_trafficking,55,Address in a forum post\n\
    btc,1BoatSLRHtKNngkdXEeobR76b53LETtpyX,scam,40,A typo: the checksum fails\n";

#[derive(Serialize)]
struct DemoFile {
    api_url: String,
    ops_url: String,
    ca_cert: PathBuf,
    config: PathBuf,
    organizations: Vec<DemoOrgEntry>,
    records: super::demo_records::DemoRecords,
}

#[derive(Serialize)]
struct DemoOrgEntry {
    id: String,
    name: String,
    #[serde(rename = "type")]
    org_type: String,
    cert: PathBuf,
    key: PathBuf,
    /// The certificate, key and demo CA for a browser, and its password.
    pkcs12: PathBuf,
    pkcs12_password: String,
    fingerprint: String,
    client_id: String,
    scopes: String,
}

fn ignore_existing<T>(result: Result<T, AdminError>) -> anyhow::Result<()> {
    match result {
        Ok(_) | Err(AdminError::Conflict(_)) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

/// Prepares the demo directory and returns the settings to serve it with.
pub fn prepare(args: &DemoArgs) -> anyhow::Result<Settings> {
    std::fs::create_dir_all(args.dir.join("pki"))
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let dir = args.dir.canonicalize()?;
    let pki = dir.join("pki");
    let ca = if pki.join("ca.pem").exists() {
        load_ca(&pki)?
    } else {
        let ca = CertificateAuthority::create("tracewire demo CA", 3650)?;
        std::fs::write(pki.join("ca.pem"), &ca.cert_pem)?;
        write_private(&pki.join("ca-key.pem"), &ca.key_pem)?;
        ca
    };
    if !pki.join("server.pem").exists() {
        let hosts = [
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        write_issued(&pki.join("server"), &ca.issue_server(&hosts, 397)?)?;
    }
    if !pki.join("crl.pem").exists() {
        std::fs::write(pki.join("crl.pem"), ca.crl(&[], 1, 3650)?)?;
    }
    for org in &ORGANIZATIONS {
        if !pki.join(format!("{}.pem", org.id)).exists() {
            write_issued(&pki.join(org.id), &ca.issue_client(org.name, org.id, 397)?)?;
        }
    }

    let config_path = dir.join("tracewire.toml");
    let config = format!(
        "# Written by `tracewire demo`. Start the same server again with:\n\
         #   tracewire --config {config}\n\
         data_dir = {data:?}\n\n[api]\nlisten = {listen:?}\n\n[ops]\nlisten = {ops:?}\n\n\
         [tls]\ncert = {cert:?}\nkey = {key:?}\nclient_ca = {ca:?}\ncrls = [{crl:?}]\nsubject_mapping_ca = {ca:?}\n\n\
         # The demo's webhook receiver runs on loopback, with a certificate from the demo CA.\n\
         [alerts]\nallow_private_endpoints = true\nreceiver_ca_file = {ca:?}\n",
        config = config_path.display(),
        data = dir.display().to_string(),
        listen = args.listen,
        ops = args.ops_listen,
        cert = pki.join("server.pem").display().to_string(),
        key = pki.join("server-key.pem").display().to_string(),
        ca = pki.join("ca.pem").display().to_string(),
        crl = pki.join("crl.pem").display().to_string(),
    );
    std::fs::write(&config_path, config)?;
    let settings = Settings::load(Some(&config_path))?;

    let db = crate::startup::open_database(&settings)?;
    let mut conn = db.get()?;
    let mut entries = Vec::new();
    let actor = crate::audit::Actor::command_line();
    let notice = settings.auth.credential_notice();
    for org in &ORGANIZATIONS {
        let id = OrganizationId::parse(org.id)?;
        ignore_existing(partners::create_organization(
            &mut conn,
            &actor,
            NewOrganization {
                id: id.clone(),
                name: org.name.into(),
                org_type: org.org_type,
                certificate_subject: None,
            },
        ))?;
        let cert_path = pki.join(format!("{}.pem", org.id));
        let pem = std::fs::read_to_string(&cert_path)?;
        ignore_existing(partners::register_certificate(
            &mut conn, &actor, &id, &pem, notice,
        ))?;
        ignore_existing(partners::create_client(
            &mut conn,
            &actor,
            &id,
            ClientId::parse(org.client)?,
            format!("{} (demo client)", org.name),
            Scopes::parse(org.scopes)?,
            notice,
        ))?;
        let browser = super::demo_browser::write_pkcs12(&pki, org.id, org.name)?;
        entries.push(DemoOrgEntry {
            id: org.id.into(),
            pkcs12: browser.path,
            pkcs12_password: browser.password,
            name: org.name.into(),
            org_type: org.org_type.to_string(),
            key: pki.join(format!("{}-key.pem", org.id)),
            fingerprint: crate::auth::PeerCertificate::from_pem(&pem)?.fingerprint,
            cert: cert_path,
            client_id: org.client.into(),
            scopes: org.scopes.into(),
        });
    }
    let community = CommunityId::parse("anti-trafficking")?;
    ignore_existing(partners::create_community(
        &mut conn,
        &actor,
        &community,
        "Anti-trafficking working group",
        "Demo community of the three partners",
    ))?;
    for org in ORGANIZATIONS.iter().skip(1) {
        partners::add_community_member(
            &mut conn,
            &actor,
            &community,
            &OrganizationId::parse(org.id)?,
        )?;
    }

    let records = super::demo_records::seed(&mut conn, ORGANIZATIONS[0].id)?;
    std::fs::write(dir.join("sample-import.csv"), SAMPLE_IMPORT)?;
    std::fs::write(dir.join("northwind-customers.txt"), SAMPLE_CUSTOMERS)?;

    let demo = DemoFile {
        api_url: format!("https://{}", api_host(&args.listen)),
        ops_url: format!("http://{}", args.ops_listen),
        ca_cert: pki.join("ca.pem"),
        config: config_path,
        organizations: entries,
        records,
    };
    std::fs::write(
        dir.join("demo.json"),
        serde_json::to_string_pretty(&demo)? + "\n",
    )?;
    print_instructions(&dir, &demo);
    Ok(settings)
}

/// `localhost:PORT` for a loopback listener (the server certificate names localhost).
fn api_host(listen: &str) -> String {
    match listen.rsplit_once(':') {
        Some((host, port)) if host == "127.0.0.1" || host == "0.0.0.0" || host == "[::1]" => {
            format!("localhost:{port}")
        }
        _ => listen.to_owned(),
    }
}

fn print_instructions(dir: &Path, demo: &DemoFile) {
    let pki = dir.join("pki");
    let curl = |org: &str| {
        format!(
            "curl --cacert {ca} --cert {p}/{org}.pem --key {p}/{org}-key.pem",
            ca = demo.ca_cert.display(),
            p = pki.display()
        )
    };
    let api = &demo.api_url;
    println!("\ntracewire demo ready in {}", dir.display());
    println!("  partners: acme-forensics (forensics), safe-harbor (ngo), northwind-exchange (exchange); hub: tracewire-hub");
    println!("  details:  {}/demo.json\n", dir.display());
    println!("# 1. Get a certificate-bound token for Acme Forensics (OAuth client credentials over mutual TLS):");
    println!("{} -d grant_type=client_credentials -d client_id=acme-forensics-analyst {api}/v1/oauth/token\n", curl("acme-forensics"));
    println!("# 2. Keep the token and ask who you are:");
    println!(
        "TOKEN=$({} -s -d grant_type=client_credentials -d client_id=acme-forensics-analyst {api}/v1/oauth/token | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
        curl("acme-forensics")
    );
    println!(
        "{} -H \"Authorization: Bearer $TOKEN\" {api}/v1/whoami\n",
        curl("acme-forensics")
    );
    println!("# 3. The same token on another organization's connection is refused (401 token-binding-mismatch):");
    println!(
        "{} -H \"Authorization: Bearer $TOKEN\" {api}/v1/whoami\n",
        curl("safe-harbor")
    );
    println!("# 4. The hub administrator lists partner organizations:");
    println!(
        "ADMIN=$({} -s -d grant_type=client_credentials -d client_id=hub-admin {api}/v1/oauth/token | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
        curl("tracewire-hub")
    );
    println!(
        "{} -H \"Authorization: Bearer $ADMIN\" {api}/v1/admin/organizations\n",
        curl("tracewire-hub")
    );
    let token_line = |var: &str, org: &str, client: &str| {
        format!(
            "{var}=$({} -s -d grant_type=client_credentials -d client_id={client} {api}/v1/oauth/token | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
            curl(org)
        )
    };
    let records = &demo.records;
    println!(
        "# 5. Sharing at work. Acme's RED record is shared with Safe Harbor only: Safe Harbor reads it (200),"
    );
    println!("#    Northwind gets the same 404 as for a record that does not exist:");
    println!(
        "{}",
        token_line("NGO", "safe-harbor", "safe-harbor-analyst")
    );
    println!(
        "{}",
        token_line("EXCHANGE", "northwind-exchange", "northwind-screening")
    );
    println!(
        "{} -H \"Authorization: Bearer $NGO\" {api}/v1/records/{}",
        curl("safe-harbor"),
        records.red_for_safe_harbor
    );
    println!(
        "{} -H \"Authorization: Bearer $EXCHANGE\" {api}/v1/records/{}\n",
        curl("northwind-exchange"),
        records.red_for_safe_harbor
    );
    println!(
        "# 6. The hub published the OFAC SDN addresses as TLP:CLEAR sanctions records ({} loaded{}); every partner counts them:",
        records.ofac_published,
        if records.ofac_rejected > 0 {
            format!(", {} lines that are not valid addresses left out", records.ofac_rejected)
        } else {
            String::new()
        }
    );
    println!(
        "{} -H \"Authorization: Bearer $EXCHANGE\" \"{api}/v1/records/count?category=sanctions\"\n",
        curl("northwind-exchange")
    );
    println!("# 7. Export what you may see as CSV (or format=jsonl); the same rules apply:");
    println!(
        "{} -H \"Authorization: Bearer $NGO\" \"{api}/v1/records/export?format=csv&category=human_trafficking\"\n",
        curl("safe-harbor")
    );
    println!("# 8. Sightings. Northwind screens a deposit address: Acme's AMBER+STRICT record matches. It reports");
    println!(
        "#    the deposit back to Acme alone (a RED sighting), and the screening answer counts it:"
    );
    println!(
        "{} -H \"Authorization: Bearer $EXCHANGE\" {api}/v1/screen/eth/{}",
        curl("northwind-exchange"),
        super::demo_records::AMBER_STRICT_ADDRESS
    );
    println!(
        "{} -H \"Authorization: Bearer $EXCHANGE\" -H 'Content-Type: application/json' -d '{{\"sighting_of\":\"{}\",\"seen_at\":\"2026-11-21T10:00:00Z\",\"count\":1,\"context\":\"deposit\",\"tlp\":\"red\",\"audience\":{{\"organizations\":[\"acme-forensics\"]}}}}' {api}/v1/sightings",
        curl("northwind-exchange"),
        records.amber_strict_for_northwind
    );
    println!(
        "{} -H \"Authorization: Bearer $EXCHANGE\" {api}/v1/screen/eth/{}\n",
        curl("northwind-exchange"),
        super::demo_records::AMBER_STRICT_ADDRESS
    );
    println!("#    Acme reads the sightings of its record: Northwind's report, and under \"unshared\" the time and");
    println!("#    count of an earlier one it may not read (shared with Safe Harbor only, reporter anonymous):");
    println!(
        "{} -H \"Authorization: Bearer $TOKEN\" {api}/v1/records/{}/sightings\n",
        curl("acme-forensics"),
        records.amber_strict_for_northwind
    );
    println!("# 9. Import a CSV, JSON-lines or OFAC list file as an organization, with a progress bar and a");
    println!("#    summary (here two lines are stored and a mistyped address is reported; exit status 2):");
    println!(
        "tracewire import --demo-org safe-harbor --demo-dir {0} --tlp amber --community anti-trafficking {0}/sample-import.csv\n",
        dir.display()
    );
    println!("# 10. Northwind screens its customers' deposit addresses privately: only 20-bit prefixes of");
    println!("#     their hashes leave the machine, padded with decoys, and the matching happens here. Three");
    println!("#     match: Acme's record shared with Northwind, an OFAC address, and Safe Harbor's anonymous");
    println!("#     report to the working group (no source named); Acme's RED record for Safe Harbor does not,");
    println!(
        "#     for Northwind. Exit status 1: something matched (see docs/private-screening.md):"
    );
    println!(
        "tracewire screen --demo-org northwind-exchange --demo-dir {0} {0}/northwind-customers.txt\n",
        dir.display()
    );
    println!("# Operations (plain HTTP, loopback): {0}/healthz {0}/readyz {0}/metrics; API docs: {0}/docs/", demo.ops_url);
    let files: Vec<(&str, &Path, &str)> = demo
        .organizations
        .iter()
        .map(|o| {
            (
                o.id.as_str(),
                o.pkcs12.as_path(),
                o.pkcs12_password.as_str(),
            )
        })
        .collect();
    super::demo_browser::print_instructions(api, &demo.ca_cert, &files);
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let setup_only = args.setup_only;
    let settings = tokio::task::spawn_blocking(move || prepare(&args)).await??;
    if setup_only {
        return Ok(());
    }
    let dir = settings.data_dir.clone();
    let app = crate::startup::Application::build(settings).await?;
    let (api_addr, ops_addr) = (app.api_addr(), app.ops_addr());
    let server = actix_web::rt::spawn(app.run_until_stopped());
    match super::demo_alerts::walk_through(&dir).await {
        Ok(lines) => lines.iter().for_each(|line| println!("{line}")),
        Err(error) => eprintln!("the alert walk-through failed: {error:#}"),
    }
    println!(
        "\nserving on https://{api_addr} (API) and http://{ops_addr} (operations); Ctrl-C stops"
    );
    server.await??;
    Ok(())
}
