//! What a reader is shown of stored records: the one function that turns a
//! stored revision and a reader into exactly what that reader may see.
//!
//! `crate::access` decides whether a reader may read a revision; this
//! module decides what it then sees of it. Every path that returns record
//! content (records, revisions, attribution, relationships, sightings,
//! screening, the change feed, exports, TAXII/STIX) renders from a
//! [`Disclosure`], so the rules below hold on all of them alike:
//!
//! - **Which records.** A record is shown only while its current revision is
//!   readable ([`can_read`]); otherwise every path treats it as missing.
//! - **Which revisions.** Of a record it may read, a reader sees the
//!   revisions it could read under each revision's own sharing. They are
//!   numbered 1, 2, … in order *among those it sees*: `revision` is never a
//!   number that points past a revision it could not read, and `created_at`
//!   (STIX `created`) is when the first revision it could read was stored.
//!   The source sees every revision with its real number.
//! - **Who.** An anonymous record's source organization and submitter are
//!   shown to the source only ([`can_see_source`]).
//! - **Audience.** Readers other than the source see only the audience
//!   entries naming themselves or their communities.
//! - **References.** Relationship ends (`from`, `to`), the record a sighting
//!   names (`sighting_of`) and `derived_from` ids are shown only when the
//!   reader may read the record they name, and are otherwise left out
//!   exactly as if there were none.
//! - **Hash.** `content_hash` is the SHA-256 of the canonical JSON of the
//!   content exactly as shown to this reader. For the source, which sees
//!   everything, it is the stored hash the audit chain covers; for other
//!   readers it covers only what they were given, so trying guessed
//!   sources, submitters or audiences against it can never match.
//!
//! Screening summaries ([`summaries`]: private screening's bucket entries,
//! the sightings beside screening answers) take the same decisions for the
//! few fields a summary uses (readable now, the source as shown, the
//! record a sighting names only when it may be followed) with the same
//! `access` calls, without building the view; a test holds them to
//! [`Disclosure::record`] over the sharing matrix.
use super::view::{AudienceView, RecordContent, RecordView, RevisionView};
use super::{content_sharing, parse_content, stored_sharing, RecordError};
use crate::access::{can_read, can_see_source, Reader};
use crate::domain::{Attribution, Category, OrganizationId, Tlp};
use crate::storage::records::{self as store, RecordRow, RevisionRow};
use crate::storage::{DbConnection, StorageError};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};

/// One revision the reader may see: its real number, the number it is
/// shown under, when it was stored, and its stored content and hash.
#[derive(Debug, Clone)]
struct Readable {
    revision: i32,
    shown: i32,
    received_at: NaiveDateTime,
    content: RecordContent,
    content_hash: String,
}

/// What one record looks like to the reader: its source and the revisions
/// it may see, oldest first (empty when it may not read the record now).
#[derive(Debug, Clone)]
struct Known {
    source: OrganizationId,
    current_revision: i32,
    /// When the first revision the reader may see was stored.
    first_seen: NaiveDateTime,
    updated_at: NaiveDateTime,
    readable: Vec<Readable>,
}

/// Everything needed to show a set of records to one reader.
pub(crate) struct Disclosure<'r> {
    reader: &'r Reader,
    records: HashMap<String, Known>,
    /// Records the reader may read now, among those referenced by what it is shown.
    followable: HashSet<String>,
}

/// The ids a revision's content refers to.
fn references(content: &RecordContent) -> impl Iterator<Item = &String> {
    content
        .from
        .iter()
        .chain(content.to.iter())
        .chain(content.sighting.iter().filter_map(|s| s.of.as_ref()))
        .chain(content.provenance.derived_from.iter())
}

fn corrupt(id: &str, what: &str) -> RecordError {
    StorageError::Corrupt(format!("record {id}: {what}")).into()
}

impl<'r> Disclosure<'r> {
    /// Prepares to show the records of `rows` (current rows, as stored) to
    /// `reader`. `revisions`, when the caller has loaded them, are every
    /// revision of those records (needed to show older revisions);
    /// otherwise only the current revisions can be shown, and the earlier
    /// ones needed to number them are loaded here (only for records with
    /// more than one revision that the reader did not write).
    pub(crate) fn prepare(
        conn: &mut DbConnection,
        reader: &'r Reader,
        rows: &[RecordRow],
        revisions: Option<&[RevisionRow]>,
    ) -> Result<Disclosure<'r>, RecordError> {
        let mut records = HashMap::with_capacity(rows.len());
        let mut to_number: HashSet<String> = HashSet::new();
        for row in rows {
            if records.contains_key(&row.id) {
                continue;
            }
            let source = OrganizationId::parse(&row.source_org)
                .map_err(|e| StorageError::Corrupt(e.to_string()))?;
            let content = parse_content(&row.id, &row.body)?;
            let sharing =
                content_sharing(&content).ok_or_else(|| corrupt(&row.id, "invalid sharing"))?;
            let mut known = Known {
                source,
                current_revision: row.revision,
                first_seen: row.created_at,
                updated_at: row.updated_at,
                readable: Vec::new(),
            };
            if can_read(reader, &known.source, &sharing) {
                let partial = row.revision > 1 && known.source != reader.organization;
                if revisions.is_some() || partial {
                    to_number.insert(row.id.clone());
                } else {
                    // A first revision, or the source's own record: numbers are the real ones.
                    known.readable.push(Readable {
                        revision: row.revision,
                        shown: row.revision,
                        received_at: row.updated_at,
                        content,
                        content_hash: row.content_hash.clone(),
                    });
                }
            }
            records.insert(row.id.clone(), known);
        }
        let loaded;
        let history: &[RevisionRow] = match revisions {
            Some(all) => all,
            None if to_number.is_empty() => &[],
            None => {
                let ids: Vec<String> = to_number.iter().cloned().collect();
                loaded = store::revisions_of(conn, &ids)?;
                &loaded
            }
        };
        let mut by_record: HashMap<&str, Vec<&RevisionRow>> = HashMap::new();
        for revision in history {
            if to_number.contains(&revision.record_id) {
                by_record
                    .entry(revision.record_id.as_str())
                    .or_default()
                    .push(revision);
            }
        }
        for (id, mut revisions) in by_record {
            let Some(known) = records.get_mut(id) else {
                continue;
            };
            revisions.sort_by_key(|r| r.revision);
            // Revisions newer than the row read (committed since) wait for
            // the next read: the row and its history stay one snapshot.
            let current = known.current_revision;
            for revision in revisions.into_iter().filter(|r| r.revision <= current) {
                let content = parse_content(id, &revision.body)?;
                let sharing =
                    content_sharing(&content).ok_or_else(|| corrupt(id, "invalid sharing"))?;
                if can_read(reader, &known.source, &sharing) {
                    known.readable.push(Readable {
                        revision: revision.revision,
                        shown: known.readable.len() as i32 + 1,
                        received_at: revision.received_at,
                        content,
                        content_hash: revision.content_hash.clone(),
                    });
                }
            }
            if let Some(first) = known.readable.first() {
                known.first_seen = first.received_at;
            }
        }

        let mut referenced: Vec<String> = records
            .values()
            .flat_map(|k| k.readable.iter())
            .flat_map(|r| references(&r.content).cloned())
            .collect();
        referenced.sort();
        referenced.dedup();
        let followable = readable_now(conn, reader, &referenced)?;
        Ok(Disclosure {
            reader,
            records,
            followable,
        })
    }

    /// May the reader read record `id` now (as far as this disclosure knows)?
    pub(crate) fn can_read_record(&self, id: &str) -> bool {
        self.records
            .get(id)
            .is_some_and(|k| k.readable.last().map(|r| r.revision) == Some(k.current_revision))
    }

    /// The record as the reader sees it now, or `None` when it may not read it.
    pub(crate) fn record(&self, id: &str) -> Option<RecordView> {
        let known = self.records.get(id)?;
        let current = known.readable.last()?;
        if current.revision != known.current_revision {
            return None;
        }
        let (content, content_hash) = self.show(known, current);
        Some(RecordView {
            content,
            content_hash,
            created_at: known.first_seen.and_utc(),
            updated_at: known.updated_at.and_utc(),
        })
    }

    /// Every revision of record `id` the reader may see, oldest first
    /// (empty when it may not read the record now).
    pub(crate) fn history(&self, id: &str) -> Vec<RevisionView> {
        if !self.can_read_record(id) {
            return Vec::new();
        }
        let known = &self.records[id];
        known
            .readable
            .iter()
            .map(|readable| {
                let (content, content_hash) = self.show(known, readable);
                RevisionView {
                    content,
                    content_hash,
                    received_at: readable.received_at.and_utc(),
                    stored_revision: readable.revision,
                }
            })
            .collect()
    }

    /// Revision `revision` (its stored number) of record `id` as the reader
    /// sees it, with the number it is shown under; `None` when not shown.
    pub(crate) fn revision(&self, id: &str, revision: i32) -> Option<RevisionView> {
        if !self.can_read_record(id) {
            return None;
        }
        let known = &self.records[id];
        let readable = known.readable.iter().find(|r| r.revision == revision)?;
        let (content, content_hash) = self.show(known, readable);
        Some(RevisionView {
            content,
            content_hash,
            received_at: readable.received_at.and_utc(),
            stored_revision: readable.revision,
        })
    }

    /// When the first revision the reader may see of `id` was stored.
    pub(crate) fn first_seen(&self, id: &str) -> Option<NaiveDateTime> {
        self.can_read_record(id)
            .then(|| self.records[id].first_seen)
    }

    /// May the reader follow a reference to `id` (read the record it names)?
    pub(crate) fn can_follow(&self, id: &str) -> bool {
        self.followable.contains(id)
    }

    /// The content of one readable revision as the reader sees it, and the
    /// hash of exactly that.
    fn show(&self, known: &Known, readable: &Readable) -> (RecordContent, String) {
        let reader = self.reader;
        let mut content = readable.content.clone();
        let mut changed = false;
        if !shows_source(reader, &known.source, content.attribution)
            && (content.provenance.source_organization.is_some()
                || content.provenance.submitted_by.is_some())
        {
            content.provenance.source_organization = None;
            content.provenance.submitted_by = None;
            changed = true;
        }
        if reader.organization != known.source {
            let own = reader.organization.as_str();
            let before = content.audience.organizations.len() + content.audience.communities.len();
            content.audience.organizations.retain(|o| o == own);
            content
                .audience
                .communities
                .retain(|c| reader.communities.iter().any(|m| m.as_str() == c));
            changed |=
                before != content.audience.organizations.len() + content.audience.communities.len();
        }
        let follow = |id: &Option<String>| id.as_ref().is_none_or(|id| self.can_follow(id));
        if !follow(&content.from) {
            content.from = None;
            changed = true;
        }
        if !follow(&content.to) {
            content.to = None;
            changed = true;
        }
        if let Some(sighting) = content.sighting.as_mut() {
            if !follow(&sighting.of) {
                sighting.of = None;
                changed = true;
            }
        }
        let derived = content.provenance.derived_from.len();
        content
            .provenance
            .derived_from
            .retain(|id| self.followable.contains(id));
        changed |= derived != content.provenance.derived_from.len();
        if content.revision != readable.shown {
            content.revision = readable.shown;
            changed = true;
        }
        if changed {
            let (_, hash) = content.canonical_json_and_hash();
            (content, hash)
        } else {
            (content, readable.content_hash.clone())
        }
    }
}

/// May `reader` see the source (and submitter) of a record from `source`
/// with `attribution`?
fn shows_source(reader: &Reader, source: &OrganizationId, attribution: Attribution) -> bool {
    can_see_source(reader, source, attribution == Attribution::Anonymous)
}

/// What a screening summary shows of one record the reader may read now:
/// the few fields of [`Disclosure::record`]'s view that a summary uses,
/// decided by the same rules (readability of the current revision, the
/// source, references) without building the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordSummary {
    pub id: String,
    pub categories: Vec<Category>,
    pub confidence: u8,
    /// The source organization, when the reader may see it.
    pub source_organization: Option<String>,
    /// What a sighting reports (sighting records).
    pub sighting: Option<SightingSummary>,
}

/// When and how often a sighting saw something, and the record it names
/// when the reader may read that record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SightingSummary {
    pub of: Option<String>,
    pub seen_at: DateTime<Utc>,
    pub count: u32,
}

#[cfg(test)]
impl RecordSummary {
    /// The summary of a view [`Disclosure::record`] gave (the two agree; a
    /// test holds them to it).
    pub(crate) fn of_view(view: &RecordView) -> RecordSummary {
        let content = &view.content;
        RecordSummary {
            id: content.id.clone(),
            categories: content.categories.clone(),
            confidence: content.confidence,
            source_organization: content.provenance.source_organization.clone(),
            sighting: content.sighting.as_ref().map(|s| SightingSummary {
                of: s.of.clone(),
                seen_at: s.seen_at,
                count: s.count,
            }),
        }
    }
}

/// The part of a stored revision's content a summary reads; serde skips
/// the rest of the body without building it.
#[derive(Deserialize)]
struct StoredSummary {
    categories: Vec<Category>,
    confidence: u8,
    tlp: Tlp,
    audience: AudienceView,
    attribution: Attribution,
    provenance: StoredProvenance,
    #[serde(default)]
    sighting: Option<StoredSighting>,
}

#[derive(Deserialize)]
struct StoredProvenance {
    #[serde(default)]
    source_organization: Option<String>,
}

#[derive(Deserialize)]
struct StoredSighting {
    #[serde(default)]
    of: Option<String>,
    seen_at: DateTime<Utc>,
    count: u32,
}

/// The summaries of `rows` (current rows, as stored) for `reader`, one per
/// row: `None` where it may not read the record now.
pub(crate) fn summaries(
    conn: &mut DbConnection,
    reader: &Reader,
    rows: &[RecordRow],
) -> Result<Vec<Option<RecordSummary>>, RecordError> {
    let mut out = Vec::with_capacity(rows.len());
    let mut referenced = Vec::new();
    for row in rows {
        let source = OrganizationId::parse(&row.source_org)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let stored: StoredSummary =
            serde_json::from_str(&row.body).map_err(|e| corrupt(&row.id, &e.to_string()))?;
        let sharing = stored_sharing(stored.tlp, &stored.audience)
            .ok_or_else(|| corrupt(&row.id, "invalid sharing"))?;
        // The current revision decides, as in `Disclosure::record`.
        if !can_read(reader, &source, &sharing) {
            out.push(None);
            continue;
        }
        let source_organization = stored
            .provenance
            .source_organization
            .filter(|_| shows_source(reader, &source, stored.attribution));
        let sighting = stored.sighting.map(|s| {
            referenced.extend(s.of.iter().cloned());
            SightingSummary {
                of: s.of,
                seen_at: s.seen_at,
                count: s.count,
            }
        });
        out.push(Some(RecordSummary {
            id: row.id.clone(),
            categories: stored.categories,
            confidence: stored.confidence,
            source_organization,
            sighting,
        }));
    }
    referenced.sort();
    referenced.dedup();
    let followable = readable_now(conn, reader, &referenced)?;
    for summary in out.iter_mut().flatten() {
        if let Some(sighting) = summary.sighting.as_mut() {
            if sighting
                .of
                .as_ref()
                .is_some_and(|id| !followable.contains(id))
            {
                sighting.of = None;
            }
        }
    }
    Ok(out)
}

/// Which of `ids` name records `reader` may read now.
fn readable_now(
    conn: &mut DbConnection,
    reader: &Reader,
    ids: &[String],
) -> Result<HashSet<String>, RecordError> {
    let mut readable = HashSet::new();
    if ids.is_empty() {
        return Ok(readable);
    }
    for (row, audience) in store::existing(conn, ids)? {
        let source = OrganizationId::parse(&row.source_org)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let Some(sharing) = super::sharing_of(&row, &audience) else {
            continue;
        };
        if can_read(reader, &source, &sharing) {
            readable.insert(row.id);
        }
    }
    Ok(readable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CommunityId, Method, RecordKind, SightingContext};
    use crate::records::view::{ProvenanceView, SightingDetails};
    use diesel::Connection;

    fn reader(org: &str, communities: &[&str]) -> Reader {
        Reader {
            organization: OrganizationId::parse(org).unwrap(),
            communities: communities
                .iter()
                .map(|c| CommunityId::parse(c).unwrap())
                .collect(),
        }
    }

    fn audience(all_partners: bool, orgs: &[&str], communities: &[&str]) -> AudienceView {
        AudienceView {
            all_partners,
            organizations: orgs.iter().map(|o| o.to_string()).collect(),
            communities: communities.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn row(n: usize, tlp: Tlp, audience: AudienceView, attribution: Attribution) -> RecordRow {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let sighting = n % 2 == 1;
        let content = RecordContent {
            id: format!("record-{n}"),
            kind: if sighting {
                RecordKind::Sighting
            } else {
                RecordKind::Address
            },
            chain: Some("eth".into()),
            address: Some("0x52908400098527886e0f7030069857d2e4169ee7".into()),
            name: None,
            entity_type: None,
            aliases: Vec::new(),
            relation: None,
            from: None,
            to: None,
            sighting: sighting.then_some(SightingDetails {
                of: None,
                seen_at: at,
                count: 3,
                context: SightingContext::Deposit,
            }),
            categories: vec![Category::Sanctions, Category::Mixer],
            confidence: (n % 101) as u8,
            valid_from: None,
            valid_until: None,
            description: "a \"quoted\" description".into(),
            external_references: Vec::new(),
            tlp,
            audience,
            attribution,
            provenance: ProvenanceView {
                source_organization: Some("acme".into()),
                submitted_by: Some("acme-analyst".into()),
                received_at: at,
                observed_at: None,
                method: Method::BlockchainAnalysis,
                source_reference: None,
                derived_from: Vec::new(),
            },
            revision: 1,
            revoked: false,
        };
        let (body, content_hash) = content.canonical_json_and_hash();
        RecordRow {
            id: content.id.clone(),
            kind: content.kind.as_str().into(),
            source_org: "acme".into(),
            revision: 1,
            tlp: content.tlp.as_str().into(),
            all_partners: content.audience.all_partners,
            attribution: "named".into(),
            revoked: false,
            chain: content.chain.clone(),
            link_key: None,
            search_text: String::new(),
            categories: String::new(),
            body,
            content_hash,
            created_at: at.naive_utc(),
            updated_at: at.naive_utc(),
            screen_bucket: None,
        }
    }

    /// Every reader relation × every sharing the brief allows × both
    /// attributions: the summary says exactly what the full view says
    /// (readable or not, categories, confidence, source, sighting).
    #[test]
    fn summaries_agree_with_the_full_view() {
        let sharings = [
            (Tlp::Clear, audience(true, &[], &[])),
            (Tlp::Green, audience(true, &[], &[])),
            (Tlp::Green, audience(false, &[], &["at"])),
            (Tlp::Amber, audience(false, &["ngo"], &[])),
            (Tlp::Amber, audience(false, &[], &["at"])),
            (Tlp::Amber, audience(false, &["ngo"], &["at"])),
            (Tlp::AmberStrict, audience(false, &["ngo"], &[])),
            (Tlp::Red, audience(false, &["ngo", "member"], &[])),
        ];
        let mut rows = Vec::new();
        for (tlp, audience) in &sharings {
            for attribution in [Attribution::Named, Attribution::Anonymous] {
                for _kind in 0..2 {
                    let n = rows.len();
                    rows.push(row(n, *tlp, audience.clone(), attribution));
                }
            }
        }
        let readers = [
            reader("acme", &[]),
            reader("ngo", &[]),
            reader("member", &["at"]),
            reader("exchange", &["other-group"]),
            reader("hub", &[]),
        ];
        // No query runs: first revisions that refer to nothing.
        let mut conn =
            DbConnection::Sqlite(diesel::SqliteConnection::establish(":memory:").unwrap());
        let (mut shown, mut hidden, mut sourceless) = (0, 0, 0);
        for reader in &readers {
            let disclosure = Disclosure::prepare(&mut conn, reader, &rows, None).unwrap();
            let summaries = summaries(&mut conn, reader, &rows).unwrap();
            for (row, summary) in rows.iter().zip(summaries) {
                let expected = disclosure
                    .record(&row.id)
                    .map(|v| RecordSummary::of_view(&v));
                assert_eq!(summary, expected, "{} for {}", row.id, reader.organization);
                match summary {
                    Some(s) if s.source_organization.is_none() => sourceless += 1,
                    Some(_) => shown += 1,
                    None => hidden += 1,
                }
            }
        }
        // The matrix covers every outcome: shown, shown without its source, hidden.
        assert!(
            shown > 0 && sourceless > 0 && hidden > 0,
            "{shown} shown, {sourceless} without source, {hidden} hidden"
        );
    }
}
