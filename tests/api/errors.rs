//! Every error is an RFC 9457 problem document, including the ones produced
//! before a handler runs (routing, body limits, media types, bad JSON).
use crate::helpers::{read_json, Reply, TestApp, TestBackend};
use awc::http::Method;
use tracewire::domain::OrganizationType;

async fn framework_errors_are_problems(backend: TestBackend) {
    let app = TestApp::spawn_with(backend, |settings, _| settings.api.max_body_bytes = 4096).await;
    let hub = app.add_org("hub", OrganizationType::Hub, "admin");
    let admin = app.token(&hub).await;
    let client = app.client(Some(&hub.certificate));

    app.get(&hub, "/v1/nothing-here", Some(&admin))
        .await
        .assert_problem(404, "not-found");
    app.get(&hub, "/", None)
        .await
        .assert_problem(404, "not-found");

    let bad_json = client
        .post(app.url("/v1/admin/organizations"))
        .bearer_auth(&admin)
        .content_type("application/json")
        .send_body("{\"id\": ");
    Reply::from(read_json(bad_json.await).await.unwrap()).assert_problem(400, "invalid-json");

    let wrong_type = client
        .post(app.url("/v1/admin/organizations"))
        .bearer_auth(&admin)
        .content_type("text/plain")
        .send_body("{}");
    Reply::from(read_json(wrong_type.await).await.unwrap())
        .assert_problem(415, "unsupported-media-type");

    let oversized = format!(
        "{{\"id\": \"x\", \"name\": \"{}\", \"type\": \"ngo\"}}",
        "a".repeat(10_000)
    );
    let too_large = client
        .post(app.url("/v1/admin/organizations"))
        .bearer_auth(&admin)
        .content_type("application/json")
        .send_body(oversized);
    Reply::from(read_json(too_large.await).await.unwrap()).assert_problem(413, "payload-too-large");

    let unknown_field = app
        .send_json(
            &hub,
            Method::POST,
            "/v1/admin/organizations",
            &admin,
            serde_json::json!({"id": "x1", "name": "X", "type": "ngo", "tlp": "red"}),
        )
        .await;
    unknown_field.assert_problem(400, "invalid-json");

    // The token endpoint speaks forms, and says so.
    let json_token = client
        .post(app.url("/v1/oauth/token"))
        .send_json(&serde_json::json!({"grant_type": "client_credentials"}));
    Reply::from(read_json(json_token.await).await.unwrap())
        .assert_problem(415, "unsupported-media-type");

    // Nothing was written by any of the refused requests.
    let orgs = app.get(&hub, "/v1/admin/organizations", Some(&admin)).await;
    assert_eq!(orgs.body.as_array().unwrap().len(), 1, "{}", orgs.body);
}

crate::on_both_backends!(framework_errors_are_problems);
