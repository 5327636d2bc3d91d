//! `tracewire pki …`: a small CA for hubs that issue their partners'
//! certificates (and for development). Files are written as
//! `<out>.pem` (certificate) and `<out>-key.pem` (private key, mode 0600).
use crate::pki::{CertificateAuthority, IssuedCertificate};
use anyhow::Context;
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create a new CA: <dir>/ca.pem and <dir>/ca-key.pem.
    InitCa {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "tracewire hub CA")]
        name: String,
        #[arg(long, default_value_t = 3650)]
        days: i64,
    },
    /// Issue a server certificate for the API listener.
    Server {
        /// Directory holding ca.pem and ca-key.pem.
        #[arg(long)]
        ca_dir: PathBuf,
        /// DNS names and IP addresses the server is reached at (repeat).
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// Output path prefix: writes <out>.pem and <out>-key.pem.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 397)]
        days: i64,
    },
    /// Issue a client certificate for a partner organization (subject O=<org>, CN=<cn>).
    Client {
        #[arg(long)]
        ca_dir: PathBuf,
        /// Organization name put in the subject (O=).
        #[arg(long)]
        org: String,
        /// Common name (CN=), e.g. the organization id.
        #[arg(long)]
        cn: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 397)]
        days: i64,
    },
    /// Revoke certificates: adds their serials to <ca-dir>/revoked.txt and
    /// writes a new <ca-dir>/crl.pem (list it in tls.crls; restart to apply).
    Revoke {
        #[arg(long)]
        ca_dir: PathBuf,
        /// Certificate files (PEM) to revoke.
        #[arg(required = true)]
        certificates: Vec<PathBuf>,
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
}

pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    write_private_bytes(path, contents.as_bytes())
}

/// Writes a file only its owner may read (mode 0600 on Unix).
pub fn write_private_bytes(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents)?;
    Ok(())
}

pub fn write_issued(out: &Path, issued: &IssuedCertificate) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cert = out.with_file_name(format!("{}.pem", file_stem(out)));
    let key = out.with_file_name(format!("{}-key.pem", file_stem(out)));
    if let Some(parent) = cert.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&cert, &issued.cert_pem)
        .with_context(|| format!("cannot write {}", cert.display()))?;
    write_private(&key, &issued.key_pem)?;
    Ok((cert, key))
}

fn file_stem(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".pem").to_owned())
        .unwrap_or_else(|| "cert".into())
}

pub fn load_ca(dir: &Path) -> anyhow::Result<CertificateAuthority> {
    let cert = std::fs::read_to_string(dir.join("ca.pem"))
        .with_context(|| format!("cannot read {}/ca.pem", dir.display()))?;
    let key = std::fs::read_to_string(dir.join("ca-key.pem"))
        .with_context(|| format!("cannot read {}/ca-key.pem", dir.display()))?;
    Ok(CertificateAuthority::load(&cert, &key)?)
}

pub fn run(command: PkiCommand) -> anyhow::Result<()> {
    match command {
        PkiCommand::InitCa { dir, name, days } => {
            if dir.join("ca.pem").exists() {
                anyhow::bail!(
                    "{}/ca.pem already exists; refusing to overwrite a CA",
                    dir.display()
                );
            }
            std::fs::create_dir_all(&dir)?;
            let ca = CertificateAuthority::create(&name, days)?;
            std::fs::write(dir.join("ca.pem"), &ca.cert_pem)?;
            write_private(&dir.join("ca-key.pem"), &ca.key_pem)?;
            // An empty CRL, so tls.crls can list it from the start.
            std::fs::write(dir.join("crl.pem"), ca.crl(&[], 1, 30)?)?;
            println!(
                "wrote {0}/ca.pem and {0}/ca-key.pem (keep the key offline)",
                dir.display()
            );
        }
        PkiCommand::Server {
            ca_dir,
            hosts,
            out,
            days,
        } => {
            let issued = load_ca(&ca_dir)?.issue_server(&hosts, days)?;
            let (cert, key) = write_issued(&out, &issued)?;
            println!(
                "wrote {} and {} (serial {})",
                cert.display(),
                key.display(),
                issued.serial
            );
        }
        PkiCommand::Client {
            ca_dir,
            org,
            cn,
            out,
            days,
        } => {
            let issued = load_ca(&ca_dir)?.issue_client(&org, &cn, days)?;
            let (cert, key) = write_issued(&out, &issued)?;
            let parsed = crate::auth::PeerCertificate::from_pem(&issued.cert_pem)?;
            println!("wrote {} and {}", cert.display(), key.display());
            println!("serial:      {}", issued.serial);
            println!("subject:     {}", parsed.subject);
            println!("fingerprint: {}", parsed.fingerprint);
            println!(
                "register it: tracewire admin cert add --org <id> --file {}",
                cert.display()
            );
        }
        PkiCommand::Revoke {
            ca_dir,
            certificates,
            days,
        } => {
            let ca = load_ca(&ca_dir)?;
            let list_path = ca_dir.join("revoked.txt");
            let mut serials: Vec<String> = std::fs::read_to_string(&list_path)
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            for path in &certificates {
                let pem = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let serial = crate::auth::PeerCertificate::from_pem(&pem)?.serial;
                if !serials.contains(&serial) {
                    serials.push(serial);
                }
            }
            std::fs::write(&list_path, serials.join("\n") + "\n")?;
            let crl = ca.crl(&serials, serials.len() as u64 + 1, days)?;
            std::fs::write(ca_dir.join("crl.pem"), crl)?;
            println!(
                "{} revoked serial(s); wrote {}/crl.pem",
                serials.len(),
                ca_dir.display()
            );
        }
    }
    Ok(())
}
