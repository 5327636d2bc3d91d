//! A real browser: Debian's Chromium, driven by Selenium
//! (`tests/browser/console_flow.py`), against the real server with real
//! certificates. Its NSS database (under the HOME it runs with) trusts the
//! test CA and holds the organization's certificate, imported from a
//! PKCS#12 file with `pk12util`; Chromium's managed policy
//! `AutoSelectCertificateForUrls` makes it present that certificate to
//! `https://localhost:<any port>` without asking (without the policy,
//! headless Chromium waits on the certificate picker forever).
//!
//! Needs `TRACEWIRE_TEST_BROWSER_PYTHON` (a Python with the pinned
//! `selenium` of `tests/browser/requirements.txt`), `chromium` and
//! `chromedriver` (`TRACEWIRE_TEST_CHROMIUM`, `TRACEWIRE_TEST_CHROMEDRIVER`,
//! by default Debian's `/usr/bin/...`), NSS's `certutil` and `pk12util`,
//! and a writable Chromium policy directory
//! (`TRACEWIRE_TEST_CHROMIUM_POLICY_DIR`, by default
//! `/etc/chromium/policies/managed`: root). `.ci/run` installs all of
//! them. Without them the tests say they are skipped, and fail when `CI` is
//! set, so CI can never skip them silently.
use crate::helpers::{TestApp, TestBackend, TestOrg};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracewire::domain::OrganizationType;

/// The policy file the tests write (the same content every time, so tests
/// running at once do not disturb each other): certificates issued by the
/// tests' CA are presented to any port of localhost.
const POLICY_FILE: &str = "tracewire-tests.json";
const TEST_CA_CN: &str = "test hub CA";

fn required(what: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{what}, but CI is set: the browser tests must run in CI (.ci/run installs it)");
    }
    eprintln!("skipped: {what} (see .ci/run, which installs it)");
    false
}

fn on_path(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--help")
        .output()
        .is_ok()
}

/// Whether NSS's `certutil` and `pk12util` are installed (Debian's
/// `libnss3-tools`); panics under CI when they are not.
pub fn nss_tools_present() -> bool {
    on_path("certutil") && on_path("pk12util")
        || required("certutil and pk12util (libnss3-tools) are not installed")
}

struct Browser {
    python: String,
    chromium: PathBuf,
    chromedriver: PathBuf,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.into())
}

/// Everything the browser needs, with the policy in place; `None` (after
/// saying so) when something is missing outside CI.
fn browser() -> Option<Browser> {
    let python = match std::env::var("TRACEWIRE_TEST_BROWSER_PYTHON") {
        Ok(python) if !python.is_empty() => python,
        _ => {
            required("TRACEWIRE_TEST_BROWSER_PYTHON (a Python with selenium) is not set");
            return None;
        }
    };
    let chromium = PathBuf::from(env_or("TRACEWIRE_TEST_CHROMIUM", "/usr/bin/chromium"));
    let chromedriver = PathBuf::from(env_or(
        "TRACEWIRE_TEST_CHROMEDRIVER",
        "/usr/bin/chromedriver",
    ));
    for binary in [&chromium, &chromedriver] {
        if !binary.exists() {
            required(&format!("{} is not installed", binary.display()));
            return None;
        }
    }
    if !nss_tools_present() {
        return None;
    }
    let policy_dir = PathBuf::from(env_or(
        "TRACEWIRE_TEST_CHROMIUM_POLICY_DIR",
        "/etc/chromium/policies/managed",
    ));
    let rule = json!({"pattern": "https://localhost:*", "filter": {"ISSUER": {"CN": TEST_CA_CN}}});
    let policy = json!({"AutoSelectCertificateForUrls": [rule.to_string()]});
    let temporary = policy_dir.join(format!(".{POLICY_FILE}.{}", uuid::Uuid::new_v4()));
    let written = std::fs::create_dir_all(&policy_dir)
        .and_then(|_| std::fs::write(&temporary, policy.to_string()))
        .and_then(|_| std::fs::rename(&temporary, policy_dir.join(POLICY_FILE)));
    if let Err(error) = written {
        required(&format!(
            "the Chromium policy cannot be written to {} ({error})",
            policy_dir.display()
        ));
        return None;
    }
    Some(Browser {
        python,
        chromium,
        chromedriver,
    })
}

fn run(program: &str, args: &[&str]) -> String {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{program} {args:?}: {text}");
    text
}

/// A HOME whose NSS database trusts the test CA and, when `org` is given,
/// holds its certificate and key, imported from a PKCS#12 file.
fn nss_home(app: &TestApp, org: Option<&TestOrg>) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let nssdb = home.path().join(".pki/nssdb");
    std::fs::create_dir_all(&nssdb).unwrap();
    let db = format!("sql:{}", nssdb.display());
    run("certutil", &["-N", "-d", &db, "--empty-password"]);
    let ca = app.pki.dir.join("ca.pem");
    run(
        "certutil",
        &[
            "-A",
            "-d",
            &db,
            "-n",
            TEST_CA_CN,
            "-t",
            "C,,",
            "-i",
            ca.to_str().unwrap(),
        ],
    );
    if let Some(org) = org {
        let password = tracewire::pki::random_password();
        let p12 = tracewire::pki::pkcs12(
            &org.certificate,
            &app.pki.ca.cert_pem,
            &format!("{} inc", org.id),
            &password,
        )
        .unwrap();
        let file = home.path().join(format!("{}.p12", org.id));
        std::fs::write(&file, p12).unwrap();
        let imported = run(
            "pk12util",
            &["-d", &db, "-i", file.to_str().unwrap(), "-W", &password],
        );
        assert!(imported.contains("PKCS12 IMPORT SUCCESSFUL"), "{imported}");
    }
    home
}

/// Runs the Selenium script; its JSON report, or the failure with what it saw.
async fn drive(browser: &Browser, config: Value) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("config.json");
    let mut config = config;
    config["chromium"] = json!(browser.chromium);
    config["chromedriver"] = json!(browser.chromedriver);
    std::fs::write(&config_file, config.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/console_flow.py");
    let run = tokio::process::Command::new(&browser.python)
        .arg(script)
        .arg(&config_file)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the browser finishes within 4 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok());
    match (output.status.success(), report) {
        (true, Some(report)) => Ok(report),
        (_, report) => Err(format!(
            "{report:#?}\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

fn screenshots(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("console-screenshots")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Pixels of an 8-bit RGB or RGBA PNG (as Chromium writes them), decoded
/// with zlib and PNG's row filters: (width, height, RGB of every pixel).
fn decode_png(bytes: &[u8]) -> (usize, usize, Vec<[u8; 3]>) {
    use std::io::Read;
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let (mut width, mut height, mut channels) = (0usize, 0usize, 0usize);
    let mut data = Vec::new();
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let length = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let body = &bytes[at + 8..at + 8 + length];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
                height = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
                assert_eq!(body[8], 8, "8-bit samples");
                channels = match body[9] {
                    2 => 3,
                    6 => 4,
                    other => panic!("PNG colour type {other}"),
                };
                assert_eq!(body[12], 0, "not interlaced");
            }
            b"IDAT" => data.extend_from_slice(body),
            _ => {}
        }
        at += 12 + length;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&data[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = width * channels;
    assert_eq!(raw.len(), height * (stride + 1));
    let mut previous = vec![0u8; stride];
    let mut pixels = Vec::with_capacity(width * height);
    for row in raw.chunks(stride + 1) {
        let (filter, line) = (row[0], &row[1..]);
        let mut current = vec![0u8; stride];
        for i in 0..stride {
            let left = if i >= channels {
                current[i - channels]
            } else {
                0
            };
            let up = previous[i];
            let up_left = if i >= channels {
                previous[i - channels]
            } else {
                0
            };
            let predicted = match filter {
                0 => 0,
                1 => left,
                2 => up,
                3 => ((left as u16 + up as u16) / 2) as u8,
                4 => {
                    let p = left as i16 + up as i16 - up_left as i16;
                    let (pa, pb, pc) = (
                        (p - left as i16).abs(),
                        (p - up as i16).abs(),
                        (p - up_left as i16).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        left
                    } else if pb <= pc {
                        up
                    } else {
                        up_left
                    }
                }
                other => panic!("PNG filter {other}"),
            };
            current[i] = line[i].wrapping_add(predicted);
        }
        pixels.extend(current.chunks(channels).map(|p| [p[0], p[1], p[2]]));
        previous = current;
    }
    (width, height, pixels)
}

/// A screenshot that shows a page: a PNG of more than 5 KB with at least
/// 1% of its pixels off the background colour and a few dozen colours
/// (text, TLP labels, borders), not a blank or single-colour page.
fn assert_real_screenshot(path: &str) {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.len() > 5 * 1024, "{path}: {} bytes", bytes.len());
    let (width, height, pixels) = decode_png(&bytes);
    assert!(width >= 200 && height >= 50, "{path}: {width}x{height}");
    let mut counts = std::collections::HashMap::new();
    for pixel in &pixels {
        *counts.entry(*pixel).or_insert(0usize) += 1;
    }
    let background = counts.values().max().copied().unwrap();
    let ink = pixels.len() - background;
    assert!(
        ink * 100 >= pixels.len(),
        "{path}: only {ink} of {} pixels differ from the background",
        pixels.len()
    );
    assert!(counts.len() >= 16, "{path}: {} colours", counts.len());
}

/// The browser presents the certificate imported from the PKCS#12 file,
/// selected by the policy: the server answers at the HTTP level (a problem
/// asking for a bearer token, which it gives only after a completed mutual
/// TLS handshake). Without the certificate in the NSS database the same
/// browser gets no answer from the server: the handshake fails.
#[actix_web::test]
async fn browser_presents_the_imported_certificate() {
    let Some(browser) = browser() else { return };
    let app = TestApp::spawn(TestBackend::Sqlite).await;
    let ngo = app.add_org("ngo", OrganizationType::Ngo, "indicators:read");
    let base = format!("https://localhost:{}", app.api_port);
    let shots = screenshots("handshake");

    let home = nss_home(&app, Some(&ngo));
    let config = json!({
        "mode": "handshake", "base_url": base, "path": "/v1/whoami",
        "home": home.path(), "screenshots": shots,
    });
    let report = drive(&browser, config).await.unwrap();
    let page = &report["pages"][0];
    let text = page["text"].as_str().unwrap();
    assert!(
        text.contains("urn:tracewire:problem:token-missing"),
        "{text}"
    );
    assert_real_screenshot(page["screenshot"].as_str().unwrap());

    let without = nss_home(&app, None);
    let config = json!({
        "mode": "handshake", "base_url": base, "path": "/v1/whoami",
        "home": without.path(), "screenshots": shots.join("without"),
    });
    // Chromium either shows its network error page or reports the error to
    // the driver, with its error code (ERR_BAD_SSL_CLIENT_AUTH_CERT or
    // ERR_SOCKET_NOT_CONNECTED, depending on when it reads the alert).
    let seen = match drive(&browser, config).await {
        Ok(report) => report["pages"][0]["text"].as_str().unwrap().to_owned(),
        Err(failure) => failure,
    };
    assert!(
        seen.contains("ERR_") && !seen.contains("urn:tracewire:problem"),
        "{seen}"
    );
}

/// An NGO analyst, in a real browser with the organization's certificate:
/// signs in, screens an address (typed in upper case), opens the record it
/// matched (Acme's RED address shared with the NGO) and its graph (wallet
/// and entity), reports a sighting of it shared with Acme only, and signs
/// out. Each page's screenshot is a real picture of the page; the texts
/// name the address, the TLP in words and the sighting; the sighting is
/// stored as the NGO's, where Acme reads it.
async fn analyst_in_a_browser(backend: TestBackend) {
    let Some(browser) = browser() else { return };
    let name = match backend {
        TestBackend::Sqlite => "sqlite",
        TestBackend::Postgres(_) => "postgres",
    };
    let app = TestApp::spawn(backend).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let ngo = app.add_org(
        "ngo",
        OrganizationType::Ngo,
        "indicators:read sightings:write",
    );
    let address = "0x52908400098527886e0f7030069857d2e4169ee7";
    let sharing =
        json!({"tlp": "red", "audience": {"organizations": ["ngo"]}, "method": "investigation"});
    let with = |mut item: Value| {
        item.as_object_mut()
            .unwrap()
            .extend(sharing.as_object().unwrap().clone());
        item
    };
    let ends = crate::records::create(&app, &acme, vec![
        with(json!({"kind": "address", "chain": "eth", "address": address,
                    "categories": ["human_trafficking"], "confidence": 80,
                    "description": "Payment address in a recruitment ad"})),
        with(json!({"kind": "wallet", "chain": "eth", "name": "Recruiter cluster",
                    "categories": ["human_trafficking"], "confidence": 70})),
        with(json!({"kind": "entity", "name": "Trafficking network X", "entity_type": "criminal_group",
                    "categories": ["human_trafficking"], "confidence": 60})),
    ])
    .await;
    assert_eq!(ends.status, 201, "{}", ends.body);
    let ids: Vec<String> = ends.body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    let links = crate::records::create(&app, &acme, vec![
        with(json!({"kind": "relationship", "relation": "member_of", "from": ids[0], "to": ids[1],
                    "categories": ["human_trafficking"], "confidence": 70})),
        with(json!({"kind": "relationship", "relation": "attributed_to", "from": ids[1], "to": ids[2],
                    "categories": ["human_trafficking"], "confidence": 60})),
    ])
    .await;
    assert_eq!(links.status, 201, "{}", links.body);

    let home = nss_home(&app, Some(&ngo));
    let shots = screenshots(name);
    let config = json!({
        "mode": "console", "base_url": format!("https://localhost:{}", app.api_port),
        "home": home.path(), "screenshots": shots,
        "address_typed": address.to_uppercase().replace("0X", "0x"), "record_id": ids[0],
        "seen_at": "2026-11-30T09:30", "sighting_notes": "Seen again in a new ad, city centre",
        "share_with": "acme",
    });
    let report = drive(&browser, config).await.unwrap();
    let pages: Vec<&Value> = report["pages"].as_array().unwrap().iter().collect();
    let page = |name: &str| -> &Value {
        pages
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no page {name}: {report:#}"))
    };
    let text = |name: &str| page(name)["text"].as_str().unwrap().to_owned();
    assert_eq!(pages.len(), 8, "{report:#}");
    for page in &pages {
        assert_real_screenshot(page["screenshot"].as_str().unwrap());
        assert!(
            page["title"].as_str().unwrap().contains("tracewire"),
            "{}",
            page["title"]
        );
    }
    assert!(text("01-signin").contains("ngo"), "{}", text("01-signin"));
    let lookup = text("02-lookup");
    assert!(lookup.to_lowercase().contains(address), "{lookup}");
    assert!(
        lookup.contains("MATCH") && lookup.contains("TLP:RED"),
        "{lookup}"
    );
    let record = text("03-record");
    assert!(
        record.to_lowercase().contains(address) && record.contains("TLP:RED"),
        "{record}"
    );
    assert!(
        record.contains("Payment address in a recruitment ad"),
        "{record}"
    );
    let graph = text("04-graph");
    assert!(
        graph.contains("Recruiter cluster") && graph.contains("Trafficking network X"),
        "{graph}"
    );
    let graph_html = page("04-graph")["html"].as_str().unwrap();
    assert!(
        graph_html.contains(&ids[1]) && graph_html.contains(&ids[2]),
        "{graph_html}"
    );
    let reported = text("06-sighting-reported");
    assert!(
        reported.contains("Seen again in a new ad, city centre") && reported.contains("TLP:AMBER"),
        "{reported}"
    );
    assert!(
        text("07-signed-out").contains("Sign in"),
        "{}",
        text("07-signed-out")
    );
    assert!(
        !text("08-after-signout").contains("Sign out"),
        "{}",
        text("08-after-signout")
    );

    // The sighting is stored as the NGO's, and Acme reads it.
    let token = app.token(&acme).await;
    let sightings = app
        .get(
            &acme,
            &format!("/v1/records/{}/sightings", ids[0]),
            Some(&token),
        )
        .await;
    assert_eq!(sightings.status, 200, "{}", sightings.body);
    let listed = sightings.body["sightings"].to_string();
    assert!(
        listed.contains("Seen again in a new ad, city centre") && listed.contains("\"ngo\""),
        "{listed}"
    );
}

crate::on_both_backends!(analyst_in_a_browser);
