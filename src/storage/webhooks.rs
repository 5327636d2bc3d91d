//! Webhook endpoints, their outbox (alerts waiting for delivery, in change
//! order per endpoint) and the log of every delivery attempt.
//!
//! An endpoint is delivered to by one server at a time: [`claim`] takes a
//! lease on it (compare-and-set on `lease_until`), renewed while it works.
use super::schema::{alerts, webhook_deliveries, webhook_endpoints, webhook_outbox};
use super::{DbConnection, StorageResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

const CHUNK: usize = 1000;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints, treat_none_as_null = true)]
pub struct EndpointRow {
    pub id: String,
    pub organization_id: String,
    pub url: String,
    pub description: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_valid_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<NaiveDateTime>,
    pub lease_until: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_outbox)]
pub struct OutboxRow {
    pub endpoint_id: String,
    pub alert_id: String,
    pub change_seq: i64,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: String,
    pub endpoint_id: String,
    pub alert_id: String,
    pub attempt: i32,
    pub at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

pub fn insert_endpoint(conn: &mut DbConnection, row: &EndpointRow) -> StorageResult<()> {
    diesel::insert_into(webhook_endpoints::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn endpoints_of(
    conn: &mut DbConnection,
    organization: &str,
) -> StorageResult<Vec<EndpointRow>> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::organization_id.eq(organization))
        .order(webhook_endpoints::id)
        .select(EndpointRow::as_select())
        .load(conn)?)
}

pub fn all_endpoints(conn: &mut DbConnection) -> StorageResult<Vec<EndpointRow>> {
    Ok(webhook_endpoints::table
        .order(webhook_endpoints::id)
        .select(EndpointRow::as_select())
        .load(conn)?)
}

pub fn endpoint(conn: &mut DbConnection, id: &str) -> StorageResult<EndpointRow> {
    Ok(webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .first(conn)?)
}

/// Saves every field of `row` (secrets, state) but the lease.
pub fn update_endpoint(conn: &mut DbConnection, row: &EndpointRow) -> StorageResult<()> {
    diesel::update(webhook_endpoints::table.find(&row.id))
        .set((
            webhook_endpoints::url.eq(&row.url),
            webhook_endpoints::description.eq(&row.description),
            webhook_endpoints::secret.eq(&row.secret),
            webhook_endpoints::previous_secret.eq(&row.previous_secret),
            webhook_endpoints::previous_valid_until.eq(row.previous_valid_until),
            webhook_endpoints::disabled_at.eq(row.disabled_at),
            webhook_endpoints::disabled_reason.eq(&row.disabled_reason),
            webhook_endpoints::failing_since.eq(row.failing_since),
        ))
        .execute(conn)?;
    Ok(())
}

/// Removes an endpoint with its queue and log.
pub fn delete_endpoint(conn: &mut DbConnection, id: &str) -> StorageResult<()> {
    diesel::delete(webhook_outbox::table.filter(webhook_outbox::endpoint_id.eq(id)))
        .execute(conn)?;
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id)))
        .execute(conn)?;
    diesel::delete(webhook_endpoints::table.find(id)).execute(conn)?;
    Ok(())
}

/// The enabled endpoints of each of `organizations`: (organization, endpoint id).
pub fn enabled_of(
    conn: &mut DbConnection,
    organizations: &[String],
) -> StorageResult<Vec<(String, String)>> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::organization_id.eq_any(organizations))
        .filter(webhook_endpoints::disabled_at.is_null())
        .select((webhook_endpoints::organization_id, webhook_endpoints::id))
        .load(conn)?)
}

pub fn enqueue(conn: &mut DbConnection, rows: &[OutboxRow]) -> StorageResult<()> {
    for chunk in rows.chunks(CHUNK) {
        on_backend!(conn, c => diesel::insert_into(webhook_outbox::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// Enabled endpoints with undelivered alerts that no server holds at `now`.
pub fn with_work(conn: &mut DbConnection, now: NaiveDateTime) -> StorageResult<Vec<String>> {
    let queued = webhook_outbox::table
        .filter(webhook_outbox::next_attempt_at.le(now))
        .select(webhook_outbox::endpoint_id);
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::disabled_at.is_null())
        .filter(
            webhook_endpoints::lease_until
                .is_null()
                .or(webhook_endpoints::lease_until.lt(now)),
        )
        .filter(webhook_endpoints::id.eq_any(queued))
        .select(webhook_endpoints::id)
        .load(conn)?)
}

/// Takes (or renews, with `renew`) the delivery lease on an enabled
/// endpoint until `until`; false when another server holds it.
pub fn claim(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> StorageResult<bool> {
    let updated = diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::disabled_at.is_null())
            .filter(
                webhook_endpoints::lease_until
                    .is_null()
                    .or(webhook_endpoints::lease_until.lt(now)),
            ),
    )
    .set(webhook_endpoints::lease_until.eq(until))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn release(conn: &mut DbConnection, id: &str) -> StorageResult<()> {
    diesel::update(webhook_endpoints::table.find(id))
        .set(webhook_endpoints::lease_until.eq(None::<NaiveDateTime>))
        .execute(conn)?;
    Ok(())
}

/// The oldest undelivered alerts of an endpoint, in order, at most `limit`.
pub fn heads(
    conn: &mut DbConnection,
    endpoint_id: &str,
    limit: i64,
) -> StorageResult<Vec<OutboxRow>> {
    Ok(webhook_outbox::table
        .filter(webhook_outbox::endpoint_id.eq(endpoint_id))
        .order(webhook_outbox::change_seq)
        .limit(limit)
        .select(OutboxRow::as_select())
        .load(conn)?)
}

pub fn delivered(conn: &mut DbConnection, endpoint_id: &str, alert_id: &str) -> StorageResult<()> {
    diesel::delete(webhook_outbox::table.find((endpoint_id, alert_id))).execute(conn)?;
    Ok(())
}

pub fn reschedule(
    conn: &mut DbConnection,
    endpoint_id: &str,
    alert_id: &str,
    attempts: i32,
    next: NaiveDateTime,
) -> StorageResult<()> {
    diesel::update(webhook_outbox::table.find((endpoint_id, alert_id)))
        .set((
            webhook_outbox::attempts.eq(attempts),
            webhook_outbox::next_attempt_at.eq(next),
        ))
        .execute(conn)?;
    Ok(())
}

/// Makes every queued alert of an endpoint due now (when it is enabled again).
pub fn due_now(
    conn: &mut DbConnection,
    endpoint_id: &str,
    now: NaiveDateTime,
) -> StorageResult<()> {
    diesel::update(webhook_outbox::table.filter(webhook_outbox::endpoint_id.eq(endpoint_id)))
        .set(webhook_outbox::next_attempt_at.eq(now))
        .execute(conn)?;
    Ok(())
}

pub fn log_delivery(conn: &mut DbConnection, row: &DeliveryRow) -> StorageResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// An endpoint's delivery attempts before `before` (by id, time-ordered), newest first.
pub fn deliveries(
    conn: &mut DbConnection,
    endpoint_id: &str,
    before: Option<&str>,
    limit: i64,
) -> StorageResult<Vec<DeliveryRow>> {
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .select(DeliveryRow::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(webhook_deliveries::id.lt(before.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Queue depth and the oldest undelivered alert's creation, per endpoint.
pub fn queue_stats(
    conn: &mut DbConnection,
) -> StorageResult<Vec<(String, i64, Option<NaiveDateTime>)>> {
    use diesel::dsl::{count_star, min};
    Ok(webhook_outbox::table
        .inner_join(alerts::table.on(alerts::id.eq(webhook_outbox::alert_id)))
        .group_by(webhook_outbox::endpoint_id)
        .select((
            webhook_outbox::endpoint_id,
            count_star(),
            min(alerts::created_at),
        ))
        .load(conn)?)
}

/// The latest delivery attempt of each endpoint among `ids`.
pub fn last_deliveries(conn: &mut DbConnection, ids: &[String]) -> StorageResult<Vec<DeliveryRow>> {
    let mut rows = Vec::new();
    for id in ids {
        rows.extend(deliveries(conn, id, None, 1)?);
    }
    Ok(rows)
}
