//! Table definitions shared by both backends. Keep in step with
//! `migrations/sqlite` and `migrations/postgres` (a test compares them).
diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        org_type -> Text,
        certificate_subject -> Nullable<Text>,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    org_certificates (fingerprint) {
        fingerprint -> Text,
        organization_id -> Text,
        subject -> Text,
        serial -> Text,
        not_after -> Timestamp,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        pending_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Text,
        organization_id -> Text,
        name -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
        pending_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    communities (id) {
        id -> Text,
        name -> Text,
        description -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    community_members (community_id, organization_id) {
        community_id -> Text,
        organization_id -> Text,
        added_at -> Timestamp,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        private_key_pem -> Text,
        public_jwk -> Text,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    records (id) {
        id -> Text,
        kind -> Text,
        source_org -> Text,
        revision -> Integer,
        tlp -> Text,
        all_partners -> Bool,
        attribution -> Text,
        revoked -> Bool,
        chain -> Nullable<Text>,
        link_key -> Nullable<Text>,
        search_text -> Text,
        categories -> Text,
        body -> Text,
        content_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        screen_bucket -> Nullable<Integer>,
    }
}

diesel::table! {
    record_audience (record_id, member_kind, member) {
        record_id -> Text,
        member_kind -> Text,
        member -> Text,
    }
}

diesel::table! {
    record_revisions (record_id, revision) {
        record_id -> Text,
        revision -> Integer,
        body -> Text,
        content_hash -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    record_links (relationship_id) {
        relationship_id -> Text,
        relation -> Text,
        from_id -> Text,
        to_id -> Text,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        at -> Timestamp,
        organization -> Text,
        client -> Text,
        action -> Text,
        record_ids -> Text,
        result_count -> BigInt,
        detail -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    idempotency_keys (organization_id, idempotency_key) {
        organization_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        record_ids -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    write_positions (organization_id) {
        organization_id -> Text,
        lsn -> BigInt,
    }
}

diesel::table! {
    feed_head (id) {
        id -> Integer,
        seq -> BigInt,
    }
}

diesel::table! {
    changes (seq) {
        seq -> BigInt,
        record_id -> Text,
        revision -> Integer,
        event -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    taxii_statuses (id) {
        id -> Text,
        organization_id -> Text,
        created_at -> Timestamp,
        body -> Text,
    }
}

diesel::table! {
    server_secrets (name) {
        name -> Text,
        secret -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    stix_imports (organization_id, stix_id) {
        organization_id -> Text,
        stix_id -> Text,
        record_id -> Text,
        version -> Text,
    }
}

diesel::table! {
    watch_entries (organization_id, entry_hash) {
        organization_id -> Text,
        entry_hash -> Text,
        sealed -> Text,
        after_seq -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    watch_keys (key_hash, organization_id, entry_hash) {
        key_hash -> Text,
        organization_id -> Text,
        entry_hash -> Text,
        after_seq -> BigInt,
    }
}

diesel::table! {
    alert_consumer (id) {
        id -> Integer,
        position -> BigInt,
    }
}

diesel::table! {
    alerts (id) {
        id -> Text,
        organization_id -> Text,
        change_seq -> BigInt,
        record_hash -> Text,
        kind -> Text,
        sealed -> Text,
        created_at -> Timestamp,
        acknowledged_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        organization_id -> Text,
        url -> Text,
        description -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_valid_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamp>,
        lease_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_outbox (endpoint_id, alert_id) {
        endpoint_id -> Text,
        alert_id -> Text,
        change_seq -> BigInt,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        alert_id -> Text,
        attempt -> Integer,
        at -> Timestamp,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        latency_ms -> BigInt,
    }
}

diesel::joinable!(record_audience -> records (record_id));
diesel::joinable!(record_revisions -> records (record_id));
diesel::joinable!(org_certificates -> organizations (organization_id));
diesel::joinable!(api_clients -> organizations (organization_id));
diesel::joinable!(community_members -> communities (community_id));
diesel::joinable!(community_members -> organizations (organization_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    org_certificates,
    api_clients,
    communities,
    community_members,
    signing_keys,
    records,
    record_audience,
    record_revisions,
    record_links,
    audit_log,
    audit_head,
    idempotency_keys,
    feed_head,
    changes,
    taxii_statuses,
    server_secrets,
    stix_imports,
    watch_entries,
    watch_keys,
    alert_consumer,
    alerts,
    webhook_endpoints,
    webhook_outbox,
    webhook_deliveries,
    write_positions,
);
