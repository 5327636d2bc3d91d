//! The docs for people (README.md and one guide per user in docs/): every
//! relative link leads to a file that exists, and every `#anchor` to a
//! heading or `<a id>` of that file. (Their command lines are checked where
//! they can run: the demo's in `cli.rs`.)
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown: &str) -> Vec<String> {
    let mut anchors = Vec::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced {
            continue;
        }
        if let Some(heading) = line.trim_start_matches('#').strip_prefix(' ') {
            if line.starts_with('#') {
                anchors.push(slug(heading));
            }
        }
        for part in line.split("<a id=\"").skip(1) {
            anchors.push(part.split('"').next().unwrap().to_owned());
        }
    }
    anchors
}

/// `(target, line)` of every Markdown link `](target)` outside code.
fn links(markdown: &str) -> Vec<(String, usize)> {
    let mut links = Vec::new();
    let mut fenced = false;
    for (number, line) in markdown.lines().enumerate() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced {
            continue;
        }
        for part in line.split("](").skip(1) {
            if let Some(target) = part.split(')').next() {
                links.push((target.to_owned(), number + 1));
            }
        }
    }
    links
}

#[test]
fn doc_links_resolve() {
    let files = markdown_files();
    assert!(files.len() >= 8, "{files:?}");
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (target, line) in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let linked = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let place = format!("{}:{line}: {target}", file.display());
            if !linked.exists() {
                broken.push(format!("{place} (no such file)"));
                continue;
            }
            if let Some(anchor) = anchor {
                let linked_text = std::fs::read_to_string(&linked).unwrap_or_default();
                if !anchors(&linked_text).iter().any(|a| a == anchor) {
                    broken.push(format!("{place} (no such anchor)"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The README keeps to what the project is, its two commands and where to
/// go next; each guide it names exists.
#[test]
fn readme_is_short_and_names_every_guide() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.lines().count() < 60, "README.md has grown");
    assert!(readme.contains("```sh\ncargo run --release -- demo\n```"));
    assert!(readme.contains("```sh\ncargo test\n```"));
    for guide in [
        "ngo-analyst.md",
        "exchange-integration.md",
        "forensic-firm.md",
        "hub-operator.md",
        "other-platforms.md",
    ] {
        assert!(readme.contains(&format!("(docs/{guide})")), "{guide}");
        assert!(
            Path::new(&root().join("docs").join(guide)).exists(),
            "{guide}"
        );
    }
}
