//! The binary as an operator uses it: the admin CLI, and the demo whose
//! printed curl lines must work as shown.
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_tracewire");

fn tracewire(config: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BINARY)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("TRACEWIRE_DATABASE__URL")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

#[test]
fn admin_cli_manages_partners() {
    let dir = tempfile::tempdir().unwrap();
    let pki = crate::helpers::TestPki::create(dir.path());
    let config = dir.path().join("tracewire.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\n",
            dir.path().display().to_string(),
            pki.dir.join("server.pem").display().to_string(),
            pki.dir.join("server-key.pem").display().to_string(),
            pki.dir.join("ca.pem").display().to_string(),
        ),
    )
    .unwrap();

    let (ok, out, err) = tracewire(
        &config,
        &[
            "admin",
            "org",
            "add",
            "--id",
            "acme",
            "--name",
            "Acme",
            "--type",
            "forensics",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"id\": \"acme\""), "{out}");

    let (ok, _, err) = tracewire(
        &config,
        &[
            "admin", "org", "add", "--id", "bank", "--name", "Bank", "--type", "bank",
        ],
    );
    assert!(!ok);
    assert!(err.contains("unknown organization type"), "{err}");

    let (ok, _, err) = tracewire(
        &config,
        &[
            "admin",
            "client",
            "add",
            "--org",
            "acme",
            "--id",
            "acme-root",
            "--name",
            "Root",
            "--scopes",
            "admin",
        ],
    );
    assert!(!ok);
    assert!(err.contains("admin scope"), "{err}");

    let cert = pki.ca.issue_client("Acme", "acme", 30).unwrap();
    let cert_path = dir.path().join("acme.pem");
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    let (ok, out, err) = tracewire(
        &config,
        &[
            "admin",
            "cert",
            "add",
            "--org",
            "acme",
            "--file",
            cert_path.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains(&cert.serial), "{out}");

    let (ok, out, err) = tracewire(&config, &["admin", "org", "list"]);
    assert!(ok, "{err}");
    let orgs: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(orgs[0]["id"], "acme");

    let (ok, out, err) = tracewire(&config, &["admin", "keys", "rotate"]);
    assert!(ok, "{err}");
    let key: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (_, out, _) = tracewire(&config, &["admin", "keys", "list"]);
    assert!(out.contains(key["kid"].as_str().unwrap()), "{out}");
}

#[test]
fn invalid_configuration_is_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tracewire.toml");
    std::fs::write(&config, "[api]\nlisten = \"not-an-address\"\n").unwrap();
    let (ok, _, err) = tracewire(&config, &["migrate"]);
    assert!(!ok);
    assert!(err.contains("api.listen"), "{err}");

    std::fs::write(&config, "[database]\nurl = \"mysql://localhost/x\"\n").unwrap();
    let (ok, _, err) = tracewire(&config, &["migrate"]);
    assert!(!ok);
    assert!(
        err.contains("database.url") && err.contains("sqlite:// or postgres://"),
        "{err}"
    );

    // Unrelated variables sharing the prefix (Kubernetes service links) are
    // not settings, but a typo inside a known section is refused.
    std::fs::write(&config, "").unwrap();
    let output = Command::new(BINARY)
        .arg("--config")
        .arg(&config)
        .arg("migrate")
        .env("TRACEWIRE_PORT", "tcp://10.0.0.1:8443")
        .env("TRACEWIRE_API__LISTN", "127.0.0.1:1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(err.contains("listn") && !err.contains("port"), "{err}");

    std::fs::write(&config, "[databse]\nurl = \"\"\n").unwrap();
    let (ok, _, err) = tracewire(&config, &["migrate"]);
    assert!(!ok);
    assert!(err.contains("databse"), "{err}");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stops the demo server when the test ends, passed or failed.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Each organization's PKCS#12 file opens with the password demo.json
/// records (and the demo printed) and holds its certificate, key and the
/// demo CA; the printed NSS lines import Safe Harbor's into a fresh NSS
/// database (Chromium's on Linux) with the CA trusted for websites.
fn assert_browser_files(demo: &serde_json::Value, printed: &[String]) {
    use openssl::pkcs12::Pkcs12;
    use openssl::x509::X509;
    let ca = std::fs::read(demo["ca_cert"].as_str().unwrap()).unwrap();
    let ca = X509::from_pem(&ca).unwrap();
    for org in demo["organizations"].as_array().unwrap() {
        let path = org["pkcs12"].as_str().unwrap();
        let password = org["pkcs12_password"].as_str().unwrap();
        assert_eq!(password.len(), 24, "{org}");
        assert!(
            printed
                .iter()
                .any(|l| l.contains(path) && l.ends_with(&format!("password {password}"))),
            "{printed:#?}"
        );
        let der = std::fs::read(path).unwrap();
        assert!(Pkcs12::from_der(&der).unwrap().parse2("wrong").is_err());
        let parsed = Pkcs12::from_der(&der).unwrap().parse2(password).unwrap();
        let cert = parsed.cert.unwrap();
        let pem = std::fs::read(org["cert"].as_str().unwrap()).unwrap();
        assert_eq!(
            cert.to_der().unwrap(),
            X509::from_pem(&pem).unwrap().to_der().unwrap()
        );
        assert!(cert.public_key().unwrap().public_eq(&parsed.pkey.unwrap()));
        let chain = parsed.ca.unwrap();
        assert_eq!(
            chain.get(0).unwrap().to_der().unwrap(),
            ca.to_der().unwrap()
        );
    }
    if !crate::console_chromium::nss_tools_present() {
        return;
    }
    let nss_lines: Vec<&String> = printed
        .iter()
        .filter(|l| {
            ["[ -f ", "certutil ", "pk12util "]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .collect();
    assert_eq!(nss_lines.len(), 3, "{printed:#?}");
    let home = tempfile::tempdir().unwrap();
    let script = nss_lines
        .iter()
        .map(|l| l.as_str())
        .chain(["certutil -d sql:$HOME/.pki/nssdb -L"])
        .collect::<Vec<_>>()
        .join(" && \\\n");
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("HOME", home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script}\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("PKCS12 IMPORT SUCCESSFUL"), "{stdout}");
    let listed = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l[name.len()..].trim().to_owned())
    };
    // The organization's own certificate with its key ("u"), the CA trusted
    // to identify websites ("C").
    assert_eq!(
        listed("Safe Harbor Anti-Trafficking Network").as_deref(),
        Some("u,u,u"),
        "{stdout}"
    );
    assert_eq!(
        listed("tracewire demo CA").as_deref(),
        Some("C,,"),
        "{stdout}"
    );
}

/// The command lines of a Markdown file's `sh` blocks that the demo prints.
fn demo_command_lines(markdown: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    for line in markdown.lines() {
        match line.trim_end() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            line if in_sh && DEMO_COMMANDS.iter().any(|start| line.starts_with(start)) => {
                lines.push(line.to_owned())
            }
            _ => {}
        }
    }
    lines
}

/// How the demo's printed command lines start (the curl lines, the shell
/// variables holding tokens, the CLI, and the NSS lines for a browser).
const DEMO_COMMANDS: [&str; 10] = [
    "curl ",
    "TOKEN=",
    "ADMIN=",
    "NGO=",
    "EXCHANGE=",
    "tracewire import ",
    "tracewire screen ",
    "[ -f ",
    "certutil ",
    "pk12util ",
];

/// The docs show the demo's lines as it prints them: docs/demo.md every
/// printed command line and no other, docs/ngo-analyst.md some of them,
/// with `tracewire-demo` for the directory, the default ports, and
/// placeholders for record ids and passwords.
fn assert_docs_show_the_printed_lines(
    demo_dir: &Path,
    demo: &serde_json::Value,
    printed: &[String],
    api: u16,
    ops: u16,
) {
    let dir = demo_dir.canonicalize().unwrap().display().to_string();
    let mut replacements = vec![
        (dir, "tracewire-demo".to_owned()),
        (format!("localhost:{api}"), "localhost:8443".to_owned()),
        (format!("127.0.0.1:{ops}"), "127.0.0.1:9090".to_owned()),
    ];
    for (record, placeholder) in [
        ("red_for_safe_harbor", "<the RED record's id>"),
        (
            "amber_strict_for_northwind",
            "<the AMBER+STRICT record's id>",
        ),
    ] {
        let id = demo["records"][record].as_str().unwrap().to_owned();
        replacements.push((id, placeholder.to_owned()));
    }
    for org in demo["organizations"].as_array().unwrap() {
        let password = org["pkcs12_password"].as_str().unwrap().to_owned();
        replacements.push((password, "<its password>".to_owned()));
    }
    let as_documented = |line: &String| {
        replacements
            .iter()
            .fold(line.clone(), |line, (from, to)| line.replace(from, to))
    };
    let printed: Vec<String> = demo_command_lines(&format!("```sh\n{}\n```", printed.join("\n")))
        .iter()
        .map(as_documented)
        .collect();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let read = |name: &str| std::fs::read_to_string(docs.join(name)).unwrap();
    let documented = demo_command_lines(&read("demo.md"));
    assert_eq!(
        documented, printed,
        "docs/demo.md and the demo's lines differ"
    );
    let analyst = demo_command_lines(&read("ngo-analyst.md"));
    assert_eq!(analyst.len(), 3);
    for line in &analyst {
        assert!(printed.contains(line), "docs/ngo-analyst.md: {line}");
    }
}

/// Runs `tracewire demo`, then the curl lines it printed, as a new user would.
#[test]
fn demo_curl_lines_work_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let (api, ops) = (free_port(), free_port());
    let mut child = Command::new(BINARY)
        .args(["demo", "--dir", demo_dir.to_str().unwrap()])
        .args([
            "--listen",
            &format!("127.0.0.1:{api}"),
            "--ops-listen",
            &format!("127.0.0.1:{ops}"),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut child = KillOnDrop(child);
    let mut printed = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.starts_with("serving on") {
            break;
        }
        printed.push(line);
    }
    // The alert walk-through: Northwind's receiver got Acme's record, signed.
    assert!(
        printed
            .iter()
            .any(|l| l.contains("signature verified; record alert for eth")
                && l.contains("customer 4711")),
        "{printed:#?}"
    );
    let demo: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo_dir.join("demo.json")).unwrap())
            .unwrap();
    assert_eq!(demo["organizations"].as_array().unwrap().len(), 4);
    assert_browser_files(&demo, &printed);
    assert_docs_show_the_printed_lines(&demo_dir, &demo, &printed, api, ops);

    let commands: Vec<String> = printed
        .iter()
        .filter(|l| {
            [
                "curl ",
                "TOKEN=",
                "ADMIN=",
                "NGO=",
                "EXCHANGE=",
                "tracewire import ",
                "tracewire screen ",
            ]
            .iter()
            .any(|start| l.starts_with(start))
        })
        .map(|l| match l.strip_prefix("tracewire ") {
            Some(rest) => format!("{BINARY} {rest}; echo \"exit status $?\""),
            None => l.clone(),
        })
        .collect();
    assert_eq!(commands.len(), 18, "{printed:#?}");
    let mut script = String::from("set -u\n");
    for (i, command) in commands.iter().enumerate() {
        script.push_str(&format!("echo '--- step {i}'\n{command}\necho\n"));
    }
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let steps: Vec<&str> = stdout.split("--- step ").skip(1).collect();

    assert!(steps[0].contains("\"token_type\":\"Bearer\""), "{stdout}");
    assert!(
        steps[2].contains("\"organization\":{\"id\":\"acme-forensics\""),
        "{stdout}"
    );
    assert!(
        steps[3].contains("urn:tracewire:problem:token-binding-mismatch"),
        "{stdout}"
    );
    assert!(
        steps[5].contains("\"id\":\"northwind-exchange\"")
            && steps[5].contains("\"id\":\"safe-harbor\""),
        "{stdout}"
    );

    // The sharing rules, as the demo shows them: Acme's RED record is Safe
    // Harbor's to read and a plain 404 for Northwind.
    let red = demo["records"]["red_for_safe_harbor"].as_str().unwrap();
    assert!(
        steps[8].contains(&format!("\"id\":\"{red}\"")) && steps[8].contains("\"tlp\":\"red\""),
        "{stdout}"
    );
    assert!(
        steps[9].contains("urn:tracewire:problem:not-found"),
        "{stdout}"
    );
    assert!(!steps[9].contains(red), "{stdout}");
    // The OFAC lists: every valid line published, visible to every partner.
    assert!(steps[10].contains("\"count\":652"), "{stdout}");
    // Safe Harbor's export holds the RED record but not Northwind's AMBER+STRICT one.
    let strict = demo["records"]["amber_strict_for_northwind"]
        .as_str()
        .unwrap();
    assert!(
        steps[11].starts_with("11\nid,kind,chain,address"),
        "{stdout}"
    );
    assert!(
        steps[11].contains(red) && !steps[11].contains(strict),
        "{stdout}"
    );
    // Sightings: Northwind's screening matches Acme's AMBER+STRICT record;
    // its sighting is stored and then counted by the same screening.
    let screened = |step: &str| -> serde_json::Value {
        serde_json::from_str(step.split_once('\n').unwrap().1.trim()).unwrap()
    };
    // (It already counts its own earlier anonymous sighting, of three deposits.)
    let before = screened(steps[12]);
    assert_eq!(before["matched"], true, "{stdout}");
    assert_eq!(before["sightings"]["reports"], 1, "{stdout}");
    assert_eq!(before["sightings"]["count"], 3, "{stdout}");
    assert!(
        steps[13].contains("\"kind\":\"sighting\"") && steps[13].contains(strict),
        "{stdout}"
    );
    let after = screened(steps[14]);
    assert_eq!(after["sightings"]["reports"], 2, "{stdout}");
    assert_eq!(after["sightings"]["count"], 4, "{stdout}");
    // Acme reads Northwind's report of step 13, and learns of the earlier
    // anonymous sighting of its record shared with Safe Harbor only as
    // time and count, not who or where.
    let sightings = screened(steps[15]);
    assert_eq!(
        sightings["sightings"].as_array().unwrap().len(),
        1,
        "{stdout}"
    );
    assert_eq!(
        sightings["sightings"][0]["sighting"]["seen_at"], "2026-11-21T10:00:00Z",
        "{stdout}"
    );
    assert_eq!(
        sightings["unshared"],
        serde_json::json!([{ "seen_at": "2026-11-20T14:05:00Z", "count": 3 }]),
        "{stdout}"
    );
    assert!(!steps[15].contains("Three deposits"), "{stdout}");
    // The import: two lines stored, the mistyped one reported, exit status 2.
    assert!(
        steps[16].contains("3 lines, 2 accepted, 1 rejected"),
        "{stdout}"
    );
    assert!(
        steps[16].contains("sample-import.csv:4: address"),
        "{stdout}"
    );
    assert!(steps[16].contains("exit status 2"), "{stdout}");
    // Private screening: Acme's record shared with Northwind, the OFAC
    // address and Safe Harbor's anonymous report match (that one with no
    // source), the RED record for Safe Harbor does not; exit status 1.
    let matches: Vec<&str> = steps[17].lines().filter(|l| l.contains("MATCH")).collect();
    assert_eq!(matches.len(), 3, "{stdout}");
    assert!(
        matches[2].starts_with("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        "{stdout}"
    );
    assert!(!matches[2].contains("safe-harbor"), "{stdout}");
    assert!(
        matches[0].starts_with("0x52908400098527886E0F7030069857D2E4169EE7"),
        "{stdout}"
    );
    assert!(
        matches[1].starts_with("0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1"),
        "{stdout}"
    );
    assert!(
        steps[17].lines().any(
            |l| l.starts_with("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq") && !l.contains("MATCH")
        ),
        "{stdout}"
    );
    assert!(steps[17].contains("exit status 1"), "{stdout}");
    assert!(demo_dir
        .join("northwind-exchange-screening-decoy-seed")
        .exists());

    // SIGTERM: graceful shutdown, clean exit.
    Command::new("kill")
        .arg("-TERM")
        .arg(child.0.id().to_string())
        .status()
        .unwrap();
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status:?}");

    // Running the demo again reuses the directory (same CA, same partners).
    let ca_before = std::fs::read_to_string(demo_dir.join("pki/ca.pem")).unwrap();
    let again = Command::new(BINARY)
        .args(["demo", "--setup-only", "--dir", demo_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(demo_dir.join("pki/ca.pem")).unwrap(),
        ca_before
    );
    // … and the same records, not a second copy.
    let demo_again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo_dir.join("demo.json")).unwrap())
            .unwrap();
    assert_eq!(demo_again["records"]["red_for_safe_harbor"], red);
    assert_eq!(demo_again["records"]["ofac_published"], 652);
}
