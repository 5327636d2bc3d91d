//! Real TAXII clients: the OASIS `taxii2-client` library and
//! `stix2-validator`, in Python, against `tracewire demo` over mutual TLS
//! and a bearer token (`tests/taxii/client_flow.py`).
//!
//! Needs `TRACEWIRE_TEST_PYTHON`: a Python with pinned `taxii2-client` and
//! `stix2-validator` (`.ci/run` makes one; docs/development.md shows how). Without it
//! the test says it is skipped, and fails when `CI` is set, so CI can never
//! skip it silently.
use crate::cli::free_port;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_tracewire");

/// The Python to use, or `None` (after saying so) when the test is skipped.
fn python() -> Option<String> {
    match std::env::var("TRACEWIRE_TEST_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var_os("CI").is_some() => panic!(
            "TRACEWIRE_TEST_PYTHON is not set, but CI is: the TAXII client test must run in CI \
             (.ci/run makes the venv and sets it)"
        ),
        _ => {
            eprintln!("skipped: TRACEWIRE_TEST_PYTHON is not set (see docs/development.md)");
            None
        }
    }
}

/// Kills the demo server when the test ends, passing or not.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_client(
    python: &str,
    dir: &Path,
    demo: &Path,
    api: u16,
    org: &str,
    client: &str,
    mode: &str,
) -> Value {
    let config = json!({
        "base_url": format!("https://localhost:{api}"),
        "ca": demo.join("pki/ca.pem"),
        "cert": demo.join(format!("pki/{org}.pem")),
        "key": demo.join(format!("pki/{org}-key.pem")),
        "client_id": client,
        "mode": mode,
        "per_request": 50,
    });
    let path = dir.join(format!("{org}-{mode}.json"));
    std::fs::write(&path, config.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/taxii/client_flow.py");
    let output = Command::new(python)
        .arg(&script)
        .arg(&path)
        .output()
        .expect("the test Python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "client_flow.py {mode} as {org} failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

/// taxii2-client: discovery, API root, collections, add objects, poll with
/// paging, every served object valid; then the full export of the demo data
/// for each partner passes stix2-validator, and the RED case reaches Safe
/// Harbor only.
#[test]
fn taxii2_client_and_stix2_validator_against_the_demo() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let (api, ops) = (free_port(), free_port());
    let mut child = Command::new(BINARY)
        .args(["demo", "--dir", demo.to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{api}")])
        .args(["--ops-listen", &format!("127.0.0.1:{ops}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().starts_with("serving on") {
            break;
        }
    }
    let facts: Value =
        serde_json::from_str(&std::fs::read_to_string(demo.join("demo.json")).unwrap()).unwrap();
    let red = facts["records"]["red_for_safe_harbor"].as_str().unwrap();

    let flow = run_client(
        &python,
        dir.path(),
        &demo,
        api,
        "acme-forensics",
        "acme-forensics-analyst",
        "flow",
    );
    assert_eq!(flow["title"], "tracewire");
    assert_eq!(flow["status"]["successes"], 4, "{flow}");
    assert!(flow["pages"].as_u64().unwrap() > 1, "paged: {flow}");
    assert_eq!(flow["invalid"], json!([]), "{flow}");

    let mut exported = Vec::new();
    for (org, client) in [
        ("safe-harbor", "safe-harbor-analyst"),
        ("northwind-exchange", "northwind-screening"),
        ("acme-forensics", "acme-forensics-analyst"),
    ] {
        let export = run_client(&python, dir.path(), &demo, api, org, client, "export");
        assert_eq!(export["invalid"], json!([]), "{org}: {export}");
        assert!(
            export["objects"].as_u64().unwrap() > 1300,
            "{org}: {export}"
        );
        let ids: Vec<&str> = export["record_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            ids.contains(&red),
            org != "northwind-exchange",
            "{org} and the RED case"
        );
        exported.push((org, export));
    }
    let types = |e: &Value| e["types"].as_array().cloned().unwrap_or_default();
    assert!(
        exported
            .iter()
            .any(|(_, e)| types(e).contains(&json!("sighting"))),
        "the demo's sighting is exported"
    );
    for expected in [
        "indicator",
        "cryptocurrency-wallet",
        "relationship",
        "threat-actor",
        "infrastructure",
    ] {
        assert!(
            types(&exported[0].1).contains(&json!(expected)),
            "{expected}"
        );
    }
    drop(server);
    eprintln!(
        "taxii2-client flow: {} objects in {} pages, status {}\nexports: {}",
        flow["objects"],
        flow["pages"],
        flow["status"],
        exported
            .iter()
            .map(|(org, e)| format!(
                "{org}: {} objects, {} validator warnings",
                e["objects"], e["validator_warnings"]
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
}
