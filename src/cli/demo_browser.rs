//! The demo in a browser: each organization's certificate and key, with the
//! demo CA in the chain, as a PKCS#12 file under a random password, and
//! the lines that import them into Firefox and Chromium.
use super::pki::{write_private, write_private_bytes};
use crate::pki::{pkcs12, random_password, IssuedCertificate};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// An organization's PKCS#12 file and the password that opens it.
pub struct BrowserFile {
    pub path: PathBuf,
    pub password: String,
}

/// Writes `<pki>/<org>.p12` from the organization's certificate and key
/// and the demo CA (mode 0600, it holds the key). The password is kept in
/// `<pki>/<org>.p12-password` (0600), so running the demo again rewrites
/// the file from the current certificate under the same password.
pub fn write_pkcs12(pki: &Path, org_id: &str, friendly_name: &str) -> anyhow::Result<BrowserFile> {
    let read = |name: String| {
        let path = pki.join(name);
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let issued = IssuedCertificate {
        cert_pem: read(format!("{org_id}.pem"))?,
        key_pem: read(format!("{org_id}-key.pem"))?,
        serial: String::new(),
    };
    let password_path = pki.join(format!("{org_id}.p12-password"));
    let password = match std::fs::read_to_string(&password_path) {
        Ok(kept) if !kept.trim().is_empty() => kept.trim().to_owned(),
        _ => {
            let fresh = random_password();
            write_private(&password_path, &format!("{fresh}\n"))?;
            fresh
        }
    };
    let der = pkcs12(&issued, &read("ca.pem".into())?, friendly_name, &password)?;
    let path = pki.join(format!("{org_id}.p12"));
    write_private_bytes(&path, &der)?;
    Ok(BrowserFile { path, password })
}

/// How to put a certificate into a browser, with every organization's file
/// and password, and Safe Harbor's analyst as the worked example.
/// `files` holds (organization, PKCS#12 file, password).
pub fn print_instructions(api_url: &str, ca: &Path, files: &[(&str, &Path, &str)]) {
    println!(
        "\n# In a browser: the analyst console at {api_url}/console/ asks for the organization's"
    );
    println!("#   certificate. Each organization's certificate and key, with the demo CA, is a PKCS#12 file:");
    for (org, path, password) in files {
        println!("#     {org}: {}  password {password}", path.display());
    }
    let Some((org, example, password)) = files.iter().find(|(org, ..)| *org == "safe-harbor")
    else {
        return;
    };
    println!("#   Firefox: Settings > Privacy & Security > Certificates > View Certificates...");
    println!(
        "#     Authorities > Import...: {} and tick \"Trust this CA to identify websites\";",
        ca.display()
    );
    println!(
        "#     Your Certificates > Import...: {} with its password.",
        example.display()
    );
    println!(
        "#   Chromium: Settings > Privacy and security > Security > Manage certificates: import"
    );
    println!("#     ca.pem as a trusted authority for websites, and the .p12 file under your certificates.");
    println!("#   Chromium on Linux, from a shell (its NSS database; created first if Chromium never ran):");
    println!(
        "[ -f \"$HOME/.pki/nssdb/cert9.db\" ] || {{ mkdir -p \"$HOME/.pki/nssdb\" && certutil -d sql:$HOME/.pki/nssdb -N --empty-password; }}"
    );
    println!(
        "certutil -d sql:$HOME/.pki/nssdb -A -t \"C,,\" -n \"tracewire demo CA\" -i {}",
        ca.display()
    );
    println!(
        "pk12util -d sql:$HOME/.pki/nssdb -i {} -W {password}",
        example.display(),
    );
    println!(
        "#   Restart the browser, open {api_url}/console/ and choose the certificate \"{org}\"."
    );
}
