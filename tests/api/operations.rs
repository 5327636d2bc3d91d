//! The operations listener, request ids, metrics, and the API documents.
use crate::helpers::{read_json, TestApp, TestBackend};
use tracewire::domain::OrganizationType;

async fn health_readiness_and_metrics(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let ops = awc::Client::default();
    let (status, _, body) = read_json(ops.get(app.ops_url("/healthz")).send().await)
        .await
        .unwrap();
    assert_eq!(
        (status.as_u16(), body["status"].as_str()),
        (200, Some("ok"))
    );
    let (status, _, body) = read_json(ops.get(app.ops_url("/readyz")).send().await)
        .await
        .unwrap();
    assert_eq!(
        (status.as_u16(), body["status"].as_str()),
        (200, Some("ok"))
    );

    // A request on the API listener is counted by route pattern, and echoes its request id.
    let acme = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    let response = app
        .client(Some(&acme.certificate))
        .get(app.url("/v1/whoami"))
        .insert_header(("X-Request-Id", "trace-me-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers().get("x-request-id").unwrap(),
        "trace-me-123"
    );

    let mut metrics = ops.get(app.ops_url("/metrics")).send().await.unwrap();
    let text = String::from_utf8(metrics.body().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains(
            r#"tracewire_http_requests_total{method="GET",route="/v1/whoami",status="401"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("tracewire_db_pool_connections"), "{text}");
}

async fn docs_render_offline_and_match_the_committed_document(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let ops = awc::Client::default();
    let mut page = ops.get(app.ops_url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = String::from_utf8(page.body().await.unwrap().to_vec()).unwrap();
    // Every script and stylesheet the page loads is served by tracewire itself.
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-initializer.js",
    ] {
        assert!(html.contains(asset), "{asset} not referenced");
        let response = ops
            .get(app.ops_url(&format!("/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
    }
    assert!(
        !html.contains("https://"),
        "the page must not load anything from the internet"
    );
    let mut init = ops
        .get(app.ops_url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    let init = String::from_utf8(init.body().await.unwrap().to_vec()).unwrap();
    assert!(init.contains("/openapi.json"), "{init}");

    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/openapi/tracewire.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let (_, _, served) = read_json(ops.get(app.ops_url("/openapi.json")).send().await)
        .await
        .unwrap();
    assert_eq!(served, committed);
    // Also on the API listener (mutual TLS, no token needed).
    let acme = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    let served = app.get(&acme, "/openapi.json", None).await;
    assert_eq!(served.body, committed);
    assert_eq!(served.body["openapi"], "3.1.0");
    assert!(served.body["components"]["securitySchemes"]["mutual_tls"]["type"] == "mutualTLS");
}

/// The committed OpenAPI document is the one the code generates.
/// Regenerate with: `cargo run -- openapi > openapi/tracewire.json`.
#[test]
fn committed_openapi_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/tracewire.json");
    let generated = tracewire::openapi::document();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/tracewire.json is stale: run `cargo run -- openapi > openapi/tracewire.json`"
    );
}

#[test]
fn every_operation_has_an_id_a_tag_and_documented_errors() {
    let doc: serde_json::Value = serde_json::from_str(&tracewire::openapi::document()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["operationId"].is_string(),
                "{method} {path} has no operationId"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} has no tag"
            );
            let responses = op["responses"].as_object().unwrap();
            let is_ops =
                ["/healthz", "/metrics", "/.well-known/jwks.json"].contains(&path.as_str());
            if !is_ops {
                assert!(
                    responses
                        .keys()
                        .any(|code| code.starts_with('4') || code.starts_with('5')),
                    "{method} {path} documents no error"
                );
            }
        }
    }
}

crate::on_both_backends!(
    health_readiness_and_metrics,
    docs_render_offline_and_match_the_committed_document
);
