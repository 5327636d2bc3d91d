//! The console's search and export, "new for me", the submit form and the
//! CSV import preview, each through the API's domain code and its sharing
//! rules (Northwind never sees Acme's RED records).
use crate::console_browser::Browser;
use crate::console_pages::{fixture, RED_ADDRESS, RED_ENTITY};
use crate::helpers::TestBackend;
use crate::records::create;
use serde_json::json;

fn records_count(app: &crate::helpers::TestApp) -> usize {
    let mut conn = app.db.get().unwrap();
    use diesel::prelude::*;
    tracewire::storage::schema::records::table
        .count()
        .get_result::<i64>(&mut *conn)
        .unwrap() as usize
}

async fn search_filters_and_exports_only_what_the_reader_may_see(backend: TestBackend) {
    let f = fixture(backend).await;
    let mut ngo = Browser::new(&f.o.app, &f.o.safe_harbor.certificate);
    ngo.sign_in(&f.o.safe_harbor).await;
    let page = ngo.get("/console/records?q=lantern").await;
    let body = page.html(200);
    assert!(body.contains("<strong>1</strong> record(s)"), "{body}");
    assert!(body.contains(&f.red_entity) && body.contains(RED_ENTITY));
    let page = ngo.get("/console/records?tlp=red").await;
    assert!(
        page.html(200).contains("<strong>4</strong> record(s)"),
        "{}",
        page.body
    );
    let page = ngo.get("/console/records?kind=wallet&chain=eth").await;
    let body = page.html(200);
    assert!(
        body.contains("<strong>1</strong> record(s)") && body.contains(&f.wallet),
        "{body}"
    );
    let page = ngo
        .get(&format!(
            "/console/records?address={}",
            RED_ADDRESS.to_uppercase().replace("0X", "0x")
        ))
        .await;
    assert!(
        page.html(200).contains(&f.red_address),
        "any form of the address"
    );
    let bad = ngo.get("/console/records?kind=spaceship").await;
    assert!(bad.html(422).contains("kind"), "{}", bad.body);

    let export = ngo.get("/console/records/export?tlp=red").await;
    assert_eq!(export.status, 200);
    assert!(export
        .header("content-type")
        .unwrap()
        .starts_with("text/csv"));
    assert_eq!(
        export.body.lines().count(),
        5,
        "header and 4 records: {}",
        export.body
    );
    assert!(export.body.contains(&f.red_address));

    let mut exchange = Browser::new(&f.o.app, &f.o.northwind.certificate);
    exchange.sign_in(&f.o.northwind).await;
    for path in [
        "/console/records",
        "/console/records?q=lantern",
        "/console/records?tlp=red",
        "/console/records/export",
    ] {
        let page = exchange.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        f.assert_no_trace(&page, path);
    }
    let all = exchange.get("/console/records").await;
    assert!(
        all.body.contains("<strong>1</strong> record(s)"),
        "only the wallet counts: {}",
        all.body
    );
    let red = exchange.get("/console/records?tlp=red").await;
    assert!(
        red.body.contains("<strong>0</strong> record(s)"),
        "{}",
        red.body
    );
}

async fn new_for_me_lists_what_changed_since_the_last_visit(backend: TestBackend) {
    let f = fixture(backend).await;
    let mut ngo = Browser::new(&f.o.app, &f.o.safe_harbor.certificate);
    ngo.sign_in(&f.o.safe_harbor).await;
    let first = ngo.get("/console/new").await;
    let body = first.html(200);
    assert!(
        body.contains(RED_ADDRESS) && body.contains(RED_ENTITY),
        "{body}"
    );
    assert_eq!(body.matches("class=\"feed-event\"").count(), 5, "{body}");
    let again = ngo.get("/console/new").await;
    assert!(
        again.html(200).contains("id=\"feed-empty\""),
        "{}",
        again.body
    );

    let made = crate::console_pages::ids(
        &create(
            &f.o.app,
            &f.o.acme,
            vec![json!({ "kind": "entity", "name": "Second Harbour Group", "entity_type": "criminal_group",
                         "categories": ["fraud"], "confidence": 50, "tlp": "amber",
                         "audience": { "organizations": ["safeharbor"] }, "method": "osint" })],
        )
        .await,
    );
    // Remembered per API client: a new session continues where the last stopped.
    let mut later = Browser::new(&f.o.app, &f.o.safe_harbor.certificate);
    later.sign_in(&f.o.safe_harbor).await;
    let next = later.get("/console/new").await;
    let body = next.html(200);
    assert_eq!(body.matches("class=\"feed-event\"").count(), 1, "{body}");
    assert!(body.contains("Second Harbour Group") && body.contains(&made[0]));

    let mut exchange = Browser::new(&f.o.app, &f.o.northwind.certificate);
    exchange.sign_in(&f.o.northwind).await;
    let feed = exchange.get("/console/new").await;
    let body = feed.html(200);
    assert_eq!(
        body.matches("class=\"feed-event\"").count(),
        1,
        "the wallet only: {body}"
    );
    f.assert_no_trace(&feed, "Northwind's feed");
    assert!(!body.contains("Second Harbour Group"));
}

async fn records_submitted_and_imported_through_the_console(backend: TestBackend) {
    let f = fixture(backend).await;
    let mut acme = Browser::new(&f.o.app, &f.o.acme.certificate);
    acme.sign_in(&f.o.acme).await;
    let form = acme.get("/console/submit").await;
    let token = form
        .html(200)
        .contains("id=\"submit-form\"")
        .then(|| form.csrf())
        .unwrap();
    let before = records_count(&f.o.app);
    let bad = acme
        .post(
            "/console/submit",
            &[
                ("csrf", token.as_str()),
                ("kind", "address"),
                ("chain", "eth"),
                ("address", "0x12"),
                ("categories", "scam"),
                ("confidence", "70"),
                ("method", "osint"),
                ("tlp", "green"),
                ("all_partners", "on"),
            ],
        )
        .await;
    assert!(bad.html(422).contains("id=\"form-errors\""), "{}", bad.body);
    assert_eq!(records_count(&f.o.app), before);
    let good = acme
        .post(
            "/console/submit",
            &[
                ("csrf", token.as_str()),
                ("kind", "address"),
                ("chain", "btc"),
                ("address", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
                ("categories", "scam"),
                ("categories", "fraud"),
                ("confidence", "70"),
                ("method", "osint"),
                ("tlp", "amber"),
                ("organizations", "safeharbor"),
                ("description", "from the form"),
            ],
        )
        .await;
    assert_eq!(good.status, 303, "{}", good.body);
    let id = good.location_record();
    let token_api = f.o.app.token(&f.o.safe_harbor).await;
    let view =
        f.o.app
            .get(
                &f.o.safe_harbor,
                &format!("/v1/records/{id}"),
                Some(&token_api),
            )
            .await;
    assert_eq!(view.status, 200, "{}", view.body);
    let mut categories: Vec<&str> = view.body["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    categories.sort();
    assert_eq!(categories, ["fraud", "scam"], "both ticked boxes");
    assert_eq!(
        view.body["provenance"]["submitted_by"],
        json!("acme-client")
    );

    // Import: the preview shows the rejected lines and stores nothing.
    let csv = "chain,address,categories,confidence\n\
               eth,0x0000000000000000000000000000000000001111,scam,60\n\
               eth,0xnothex,scam,60\n\
               eth,0x0000000000000000000000000000000000002222,spaceships,60\n\
               eth,0x0000000000000000000000000000000000003333,scam,500\n";
    let before = records_count(&f.o.app);
    let page = acme
        .post(
            "/console/import",
            &[
                ("csrf", token.as_str()),
                ("csv", csv),
                ("step", "preview"),
                ("tlp", "green"),
                ("all_partners", "on"),
            ],
        )
        .await;
    let body = page.html(200);
    assert!(
        body.contains("4 line(s): <strong>1</strong> can be stored, <strong>3</strong> rejected"),
        "{body}"
    );
    for line in ["upload.csv:3", "upload.csv:4", "upload.csv:5"] {
        assert!(body.contains(line), "{line}: {body}");
    }
    assert!(body.contains("id=\"import-confirm\""));
    assert_eq!(records_count(&f.o.app), before, "a preview stores nothing");
    let page = acme
        .post(
            "/console/import",
            &[
                ("csrf", token.as_str()),
                ("csv", csv),
                ("step", "confirm"),
                ("tlp", "green"),
                ("all_partners", "on"),
            ],
        )
        .await;
    assert!(
        page.html(200)
            .contains("<strong>1</strong> record(s) stored"),
        "{}",
        page.body
    );
    assert_eq!(records_count(&f.o.app), before + 1);
    // The same CSV as an uploaded file: the same preview, nothing stored.
    let page = acme
        .post_file(
            "/console/import",
            &[
                ("csrf", token.as_str()),
                ("csv", ""),
                ("step", "preview"),
                ("tlp", "green"),
                ("all_partners", "on"),
            ],
            &csv.replace("1111", "4444"),
        )
        .await;
    let body = page.html(200);
    assert!(
        body.contains("4 line(s): <strong>1</strong> can be stored, <strong>3</strong> rejected"),
        "{body}"
    );
    assert!(
        body.contains("0x0000000000000000000000000000000000004444"),
        "the file's text is kept for the confirm"
    );
    assert_eq!(records_count(&f.o.app), before + 1);
    // The import form refuses another origin like every form.
    let foreign = acme
        .post_from(
            "/console/import",
            &[("csrf", token.as_str()), ("csv", csv), ("step", "confirm")],
            Some("https://evil.example"),
        )
        .await;
    foreign.html(403);
    assert_eq!(records_count(&f.o.app), before + 1);

    // Without indicators:write: neither page.
    let mut ngo = Browser::new(&f.o.app, &f.o.safe_harbor.certificate);
    ngo.sign_in(&f.o.safe_harbor).await;
    ngo.get("/console/submit").await.html(403);
    ngo.get("/console/import").await.html(403);
    let token = ngo.csrf().await;
    ngo.post(
        "/console/import",
        &[("csrf", token.as_str()), ("csv", csv), ("step", "confirm")],
    )
    .await
    .html(403);
    assert_eq!(records_count(&f.o.app), before + 1);
}

crate::on_both_backends!(
    search_filters_and_exports_only_what_the_reader_may_see,
    new_for_me_lists_what_changed_since_the_last_visit,
    records_submitted_and_imported_through_the_console,
);
