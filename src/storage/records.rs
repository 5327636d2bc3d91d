//! Intelligence records: current state, audience and revisions.
//!
//! [`visible_to`] is the SQL form of `crate::access::can_read`; every
//! query that returns records to a caller filters with it.
use super::schema::{record_audience, record_links, record_revisions, records};
use super::{DbConnection, StorageResult};
use crate::access::Reader;
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub const AUDIENCE_ORGANIZATION: &str = "organization";
pub const AUDIENCE_COMMUNITY: &str = "community";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = records, treat_none_as_null = true)]
pub struct RecordRow {
    pub id: String,
    pub kind: String,
    pub source_org: String,
    pub revision: i32,
    pub tlp: String,
    pub all_partners: bool,
    pub attribution: String,
    pub revoked: bool,
    pub chain: Option<String>,
    /// The address's first link key (`evm:<hex>`, `bch:<cashaddr>`, `btc:<canonical>`, …).
    pub link_key: Option<String>,
    /// Lower-cased names and aliases, for text search.
    pub search_text: String,
    /// `|cat1|cat2|`, for category filters.
    pub categories: String,
    /// The current revision's content, canonical JSON.
    pub body: String,
    pub content_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The private screening bucket of `link_key`
    /// (`crate::domain::private_screening::bucket_of_key`).
    pub screen_bucket: Option<i32>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = record_audience)]
pub struct AudienceRow {
    pub record_id: String,
    pub member_kind: String,
    pub member: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = record_revisions)]
pub struct RevisionRow {
    pub record_id: String,
    pub revision: i32,
    pub body: String,
    pub content_hash: String,
    pub received_at: NaiveDateTime,
}

/// The ends of a relationship record.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = record_links)]
pub struct LinkRow {
    pub relationship_id: String,
    pub relation: String,
    pub from_id: String,
    pub to_id: String,
}

/// A record to store: its row, its audience, its revision and, for a
/// relationship, its ends.
pub struct NewRecordRows {
    pub record: RecordRow,
    pub audience: Vec<AudienceRow>,
    pub revision: RevisionRow,
    pub link: Option<LinkRow>,
}

/// Rows per multi-row INSERT: below SQLite's and PostgreSQL's bind-parameter limits.
pub const INSERT_CHUNK: usize = 1000;

/// Inserts every record, or none (call inside a transaction).
pub fn insert_all(conn: &mut DbConnection, new: Vec<NewRecordRows>) -> StorageResult<()> {
    let mut rows = Vec::with_capacity(new.len());
    let mut audience = Vec::new();
    let mut revisions = Vec::with_capacity(new.len());
    let mut links = Vec::new();
    for record in new {
        rows.push(record.record);
        audience.extend(record.audience);
        revisions.push(record.revision);
        links.extend(record.link);
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        on_backend!(conn, c => diesel::insert_into(records::table).values(chunk).execute(c))?;
    }
    for chunk in audience.chunks(INSERT_CHUNK) {
        on_backend!(conn, c => diesel::insert_into(record_audience::table).values(chunk).execute(c))?;
    }
    for chunk in revisions.chunks(INSERT_CHUNK) {
        on_backend!(conn, c => diesel::insert_into(record_revisions::table).values(chunk).execute(c))?;
    }
    for chunk in links.chunks(INSERT_CHUNK) {
        on_backend!(conn, c => diesel::insert_into(record_links::table).values(chunk).execute(c))?;
    }
    Ok(())
}

type BoxedRecords<'a> = records::BoxedQuery<'a, crate::storage::DbConnectionBackend>;

/// The sharing rule as a filter (must agree with `access::can_read`):
/// own records, CLEAR, GREEN for all partners, or an audience entry naming
/// the reader's organization or one of its communities. Writes only store
/// community entries for GREEN/AMBER and organization entries for
/// AMBER/AMBER+STRICT/RED, so the audience test needs no TLP condition.
fn visible_to<'a>(query: BoxedRecords<'a>, reader: &Reader) -> BoxedRecords<'a> {
    let org = reader.organization.to_string();
    let communities: Vec<String> = reader.communities.iter().map(|c| c.to_string()).collect();
    let named = record_audience::table
        .filter(
            record_audience::member_kind
                .eq(AUDIENCE_ORGANIZATION)
                .and(record_audience::member.eq(org.clone()))
                .or(record_audience::member_kind
                    .eq(AUDIENCE_COMMUNITY)
                    .and(record_audience::member.eq_any(communities))),
        )
        .select(record_audience::record_id);
    query.filter(
        records::source_org
            .eq(org)
            .or(records::tlp.eq("clear"))
            .or(records::tlp.eq("green").and(records::all_partners.eq(true)))
            .or(records::id.eq_any(named)),
    )
}

pub fn find(
    conn: &mut DbConnection,
    id: &str,
) -> StorageResult<Option<(RecordRow, Vec<AudienceRow>)>> {
    let Some(row) = records::table
        .find(id)
        .select(RecordRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let audience = record_audience::table
        .filter(record_audience::record_id.eq(id))
        .select(AudienceRow::as_select())
        .load(conn)?;
    Ok(Some((row, audience)))
}

/// Filters of a record listing (all optional, combined with AND).
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub kind: Option<String>,
    pub chain: Option<String>,
    /// Any of these link keys (an address typed in any of its forms).
    pub link_keys: Option<Vec<String>>,
    pub category: Option<String>,
    /// Source organization; anonymous records only match for their own source.
    pub source: Option<String>,
    pub tlp: Option<String>,
    pub updated_since: Option<NaiveDateTime>,
    /// Lower-case text searched in names and aliases.
    pub text: Option<String>,
    pub include_revoked: bool,
    /// Only ids after this one (the cursor).
    pub after: Option<String>,
}

/// Records `reader` may see, matching `filter`, by id (time-ordered UUIDv7), at most `limit`.
pub fn list(
    conn: &mut DbConnection,
    reader: &Reader,
    filter: &RecordFilter,
    limit: i64,
) -> StorageResult<Vec<RecordRow>> {
    Ok(matching(reader, filter)
        .order(records::id)
        .limit(limit)
        .select(RecordRow::as_select())
        .load(conn)?)
}

/// How many records `reader` may see match `filter` (the cursor is ignored).
pub fn count(
    conn: &mut DbConnection,
    reader: &Reader,
    filter: &RecordFilter,
) -> StorageResult<i64> {
    let filter = RecordFilter {
        after: None,
        ..filter.clone()
    };
    Ok(matching(reader, &filter).count().get_result(conn)?)
}

/// The visible records matching `filter`, as a query to order, page or count.
fn matching<'a>(reader: &Reader, filter: &RecordFilter) -> BoxedRecords<'a> {
    let mut query = visible_to(records::table.into_boxed(), reader);
    if let Some(kind) = &filter.kind {
        query = query.filter(records::kind.eq(kind.clone()));
    }
    if let Some(chain) = &filter.chain {
        query = query.filter(records::chain.eq(chain.clone()));
    }
    if let Some(keys) = &filter.link_keys {
        query = query.filter(records::link_key.eq_any(keys.clone()));
    }
    if let Some(category) = &filter.category {
        query = query.filter(records::categories.like(format!("%|{category}|%")));
    }
    if let Some(source) = &filter.source {
        let own = source == reader.organization.as_str();
        query = query.filter(records::source_org.eq(source.clone()));
        if !own {
            query = query.filter(records::attribution.eq("named"));
        }
    }
    if let Some(tlp) = &filter.tlp {
        query = query.filter(records::tlp.eq(tlp.clone()));
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(records::updated_at.ge(since));
    }
    if let Some(text) = &filter.text {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(
            records::search_text
                .like(format!("%{escaped}%"))
                .escape('\\'),
        );
    }
    if !filter.include_revoked {
        query = query.filter(records::revoked.eq(false));
    }
    if let Some(after) = &filter.after {
        query = query.filter(records::id.gt(after.clone()));
    }
    query
}

/// Unrevoked records of `kinds` that `reader` may see whose link key is
/// one of `keys` (addresses, and sightings reported by address).
pub fn visible_with_link_keys(
    conn: &mut DbConnection,
    reader: &Reader,
    keys: &[String],
    kinds: &[&str],
) -> StorageResult<Vec<RecordRow>> {
    visible_in_chunks(conn, reader, keys, kinds, |query, chunk| {
        query.filter(records::link_key.eq_any(chunk))
    })
}

/// Unrevoked records of `kinds` that `reader` may see whose private
/// screening bucket is one of `buckets`.
pub fn visible_in_buckets(
    conn: &mut DbConnection,
    reader: &Reader,
    buckets: &[i32],
    kinds: &[&str],
) -> StorageResult<Vec<RecordRow>> {
    visible_in_chunks(conn, reader, buckets, kinds, |query, chunk| {
        query.filter(records::screen_bucket.eq_any(chunk))
    })
}

/// Unrevoked records of `kinds` that `reader` may see and that `matching`
/// selects for a chunk of `values`, in id order per chunk (a chunk stays
/// below the bind-parameter limits).
fn visible_in_chunks<'a, T: Clone>(
    conn: &mut DbConnection,
    reader: &Reader,
    values: &'a [T],
    kinds: &'a [&'a str],
    matching: impl Fn(BoxedRecords<'a>, &'a [T]) -> BoxedRecords<'a>,
) -> StorageResult<Vec<RecordRow>> {
    let mut rows = Vec::new();
    for chunk in values.chunks(INSERT_CHUNK) {
        rows.extend(
            matching(visible_to(records::table.into_boxed(), reader), chunk)
                .filter(records::kind.eq_any(kinds))
                .filter(records::revoked.eq(false))
                .order(records::id)
                .select(RecordRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// The link `relation` from a sighting to the record it names.
pub const SIGHTING_OF: &str = "sighting_of";

/// Unrevoked sightings that name one of `record_ids` or carry one of `keys`
/// (sightings reported by address), whoever may read them, with their audiences.
pub fn sightings_naming(
    conn: &mut DbConnection,
    record_ids: &[String],
    keys: &[String],
) -> StorageResult<Vec<(RecordRow, Vec<AudienceRow>)>> {
    let naming = record_links::table
        .filter(record_links::relation.eq(SIGHTING_OF))
        .filter(record_links::to_id.eq_any(record_ids))
        .select(record_links::relationship_id);
    let ids: Vec<String> = records::table
        .filter(records::kind.eq("sighting"))
        .filter(records::revoked.eq(false))
        .filter(
            records::link_key
                .eq_any(keys)
                .or(records::id.eq_any(naming)),
        )
        .select(records::id)
        .load(conn)?;
    existing(conn, &ids)
}

/// Unrevoked sightings `reader` may see that name one of `record_ids`.
pub fn visible_sightings_naming(
    conn: &mut DbConnection,
    reader: &Reader,
    record_ids: &[String],
) -> StorageResult<Vec<RecordRow>> {
    let mut naming = Vec::new();
    for chunk in record_ids.chunks(INSERT_CHUNK) {
        naming.extend(
            record_links::table
                .filter(record_links::relation.eq(SIGHTING_OF))
                .filter(record_links::to_id.eq_any(chunk))
                .select(record_links::relationship_id)
                .load::<String>(conn)?,
        );
    }
    let mut rows = Vec::new();
    for chunk in naming.chunks(INSERT_CHUNK) {
        rows.extend(
            visible_to(records::table.into_boxed(), reader)
                .filter(records::id.eq_any(chunk))
                .filter(records::revoked.eq(false))
                .select(RecordRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// Which of `ids` are the `from` end of some relationship.
pub fn with_outgoing_links(conn: &mut DbConnection, ids: &[String]) -> StorageResult<Vec<String>> {
    let mut found = Vec::new();
    for chunk in ids.chunks(INSERT_CHUNK) {
        found.extend(
            record_links::table
                .filter(record_links::from_id.eq_any(chunk))
                .select(record_links::from_id)
                .distinct()
                .load::<String>(conn)?,
        );
    }
    Ok(found)
}

/// Ids of existing records among `ids` (for relationship endpoints).
pub fn existing(
    conn: &mut DbConnection,
    ids: &[String],
) -> StorageResult<Vec<(RecordRow, Vec<AudienceRow>)>> {
    let rows = records::table
        .filter(records::id.eq_any(ids))
        .select(RecordRow::as_select())
        .load(conn)?;
    let audience = record_audience::table
        .filter(record_audience::record_id.eq_any(ids))
        .select(AudienceRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let members = audience
                .iter()
                .filter(|a| a.record_id == row.id)
                .cloned()
                .collect();
            (row, members)
        })
        .collect())
}

/// Replaces a record's current state with a new revision, if its current
/// revision is still `expected_revision` (otherwise a concurrent write won:
/// [`StorageError::Conflict`]). Call inside a transaction.
pub fn replace(
    conn: &mut DbConnection,
    new: &NewRecordRows,
    expected_revision: i32,
) -> StorageResult<()> {
    let id = new.record.id.as_str();
    let updated = diesel::update(
        records::table
            .find(id)
            .filter(records::revision.eq(expected_revision)),
    )
    .set(&new.record)
    .execute(conn)?;
    if updated == 0 {
        return Err(crate::storage::StorageError::Conflict(format!(
            "record {id} changed concurrently; read it again and retry"
        )));
    }
    diesel::delete(record_audience::table.filter(record_audience::record_id.eq(id)))
        .execute(conn)?;
    for member in &new.audience {
        diesel::insert_into(record_audience::table)
            .values(member)
            .execute(conn)?;
    }
    diesel::insert_into(record_revisions::table)
        .values(&new.revision)
        .execute(conn)?;
    if let Some(link) = &new.link {
        diesel::delete(record_links::table.find(&link.relationship_id)).execute(conn)?;
        diesel::insert_into(record_links::table)
            .values(link)
            .execute(conn)?;
    }
    Ok(())
}

/// Every revision of a record, oldest first.
pub fn revisions(conn: &mut DbConnection, id: &str) -> StorageResult<Vec<RevisionRow>> {
    Ok(record_revisions::table
        .filter(record_revisions::record_id.eq(id))
        .order(record_revisions::revision)
        .select(RevisionRow::as_select())
        .load(conn)?)
}

/// Every revision of each of `ids`.
pub fn revisions_of(conn: &mut DbConnection, ids: &[String]) -> StorageResult<Vec<RevisionRow>> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(INSERT_CHUNK) {
        rows.extend(
            record_revisions::table
                .filter(record_revisions::record_id.eq_any(chunk))
                .select(RevisionRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// The current rows of those of `ids` that exist.
pub fn rows_of(conn: &mut DbConnection, ids: &[String]) -> StorageResult<Vec<RecordRow>> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(INSERT_CHUNK) {
        rows.extend(
            records::table
                .filter(records::id.eq_any(chunk))
                .select(RecordRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// The source organization of each of `ids`.
pub fn sources_of(conn: &mut DbConnection, ids: &[String]) -> StorageResult<Vec<(String, String)>> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(INSERT_CHUNK) {
        rows.extend(
            records::table
                .filter(records::id.eq_any(chunk))
                .select((records::id, records::source_org))
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(rows)
}

/// The relationships with `record_id` at either end.
pub fn links_touching(conn: &mut DbConnection, record_id: &str) -> StorageResult<Vec<LinkRow>> {
    Ok(record_links::table
        .filter(
            record_links::from_id
                .eq(record_id)
                .or(record_links::to_id.eq(record_id)),
        )
        .order(record_links::relationship_id)
        .select(LinkRow::as_select())
        .load(conn)?)
}

/// The links touching any of `record_ids` (either end), by relationship id.
pub fn links_touching_any(
    conn: &mut DbConnection,
    record_ids: &[String],
) -> StorageResult<Vec<LinkRow>> {
    let mut rows = Vec::new();
    for chunk in record_ids.chunks(INSERT_CHUNK) {
        rows.extend(
            record_links::table
                .filter(
                    record_links::from_id
                        .eq_any(chunk)
                        .or(record_links::to_id.eq_any(chunk)),
                )
                .select(LinkRow::as_select())
                .load(conn)?,
        );
    }
    rows.sort_by(|a, b| a.relationship_id.cmp(&b.relationship_id));
    rows.dedup_by(|a, b| a.relationship_id == b.relationship_id);
    Ok(rows)
}

/// What the alert consumer needs to match a record: its kind and link key.
pub fn match_info(
    conn: &mut DbConnection,
    ids: &[String],
) -> StorageResult<Vec<(String, String, Option<String>)>> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(INSERT_CHUNK) {
        rows.extend(
            records::table
                .filter(records::id.eq_any(chunk))
                .select((records::id, records::kind, records::link_key))
                .load::<(String, String, Option<String>)>(conn)?,
        );
    }
    Ok(rows)
}

/// Gives every record written before private screening existed (a link key
/// but no bucket) its bucket. Runs after the migrations at every start; the
/// partial index `records_screen_bucket_missing` makes it free once done.
/// Returns how many rows it filled.
pub fn fill_screen_buckets(conn: &mut DbConnection) -> StorageResult<usize> {
    use crate::domain::private_screening::{bucket_of_key, HASH_LABEL, PREFIX_BITS};
    if let DbConnection::Postgres(pg) = conn {
        // The same hash in SQL, so a large table is filled in one statement
        // (checked against `bucket_of_key` by the upgrade test).
        let sql = format!(
            "UPDATE records SET screen_bucket = ('x' || substr(encode(sha256(convert_to('{HASH_LABEL}' || link_key, 'UTF8')), 'hex'), 1, {digits}))::bit({PREFIX_BITS})::int \
             WHERE screen_bucket IS NULL AND link_key IS NOT NULL",
            digits = PREFIX_BITS / 4
        );
        return Ok(diesel::sql_query(sql).execute(pg)?);
    }
    let mut filled = 0;
    loop {
        let missing: Vec<(String, Option<String>)> = records::table
            .filter(records::screen_bucket.is_null())
            .filter(records::link_key.is_not_null())
            .select((records::id, records::link_key))
            .limit(INSERT_CHUNK as i64)
            .load(conn)?;
        if missing.is_empty() {
            return Ok(filled);
        }
        conn.transaction(|conn| {
            for (id, key) in &missing {
                let bucket = key.as_deref().map(|k| bucket_of_key(k) as i32);
                diesel::update(records::table.find(id))
                    .set(records::screen_bucket.eq(bucket))
                    .execute(conn)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        filled += missing.len();
    }
}

/// The links made by each of `ids` (relationships and sightings of a record).
pub fn links_of(conn: &mut DbConnection, ids: &[String]) -> StorageResult<Vec<LinkRow>> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(INSERT_CHUNK) {
        rows.extend(
            record_links::table
                .filter(record_links::relationship_id.eq_any(chunk))
                .select(LinkRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}
