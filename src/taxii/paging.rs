//! Paging a collection: the filters of an objects, manifest or versions
//! request, the sealed position a `next` stands for, and the page being
//! filled (each object once).
use super::{Envelope, Manifest, ManifestEntry, Versions};
use super::{TaxiiError, DEFAULT_LIMIT, MAX_LIMIT};
use crate::cursor::{CursorKey, Feed};
use crate::domain::OrganizationId;
use crate::stix;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use std::collections::HashSet;

/// A position in a collection: change `seq`, from its object `skip` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub(super) seq: i64,
    pub(super) skip: usize,
}

impl Cursor {
    /// The position in an opaque `next` given to `reader` ([`crate::cursor`]).
    pub(super) fn open(key: &CursorKey, reader: &OrganizationId, text: &str) -> Option<Cursor> {
        let (seq, skip) = key.open_position(Feed::Taxii, reader, text).ok()?;
        Some(Cursor {
            seq,
            skip: usize::try_from(skip).ok()?,
        })
    }

    /// An opaque `next` for `reader`, fresh each time.
    pub(super) fn seal(self, key: &CursorKey, reader: &OrganizationId) -> String {
        key.seal_position(Feed::Taxii, reader, self.seq, self.skip as u64)
    }
}

/// One `match[version]` value.
#[derive(Debug, Clone, PartialEq)]
pub enum VersionMatch {
    First,
    Last,
    All,
    At(DateTime<Utc>),
}

/// The filters and paging of an objects, manifest or versions request.
#[derive(Debug, Clone)]
pub struct ObjectFilter {
    pub added_after: Option<NaiveDateTime>,
    pub limit: i64,
    /// The `next` parameter as sent: opened for the reader by [`objects`].
    pub(super) next: Option<String>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: Vec<VersionMatch>,
    pub spec_versions: Vec<String>,
}

impl ObjectFilter {
    /// Parses the query parameters; unknown ones are ignored, as TAXII asks.
    pub fn parse(query: &[(String, String)]) -> Result<ObjectFilter, TaxiiError> {
        let mut filter = ObjectFilter {
            added_after: None,
            limit: DEFAULT_LIMIT,
            next: None,
            ids: Vec::new(),
            types: Vec::new(),
            versions: Vec::new(),
            spec_versions: Vec::new(),
        };
        let list = |value: &str| -> Vec<String> {
            value
                .split(',')
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect()
        };
        for (name, value) in query {
            match name.as_str() {
                "added_after" => {
                    let at = stix::parse_timestamp(value).ok_or_else(|| {
                        TaxiiError::BadRequest(format!(
                            "added_after {value:?} is not an RFC 3339 timestamp"
                        ))
                    })?;
                    filter.added_after = Some(at.naive_utc());
                }
                "limit" => {
                    let limit = value
                        .parse::<i64>()
                        .ok()
                        .filter(|l| *l >= 1)
                        .ok_or_else(|| {
                            TaxiiError::BadRequest(format!(
                                "limit {value:?} is not a positive integer"
                            ))
                        })?;
                    filter.limit = limit.min(MAX_LIMIT);
                }
                "next" => filter.next = Some(value.clone()),
                "match[id]" => filter.ids.extend(list(value)),
                "match[type]" => filter.types.extend(list(value)),
                "match[spec_version]" => filter.spec_versions.extend(list(value)),
                "match[version]" => {
                    for version in list(value) {
                        filter.versions.push(match version.as_str() {
                            "first" => VersionMatch::First,
                            "last" => VersionMatch::Last,
                            "all" => VersionMatch::All,
                            other => VersionMatch::At(stix::parse_timestamp(other).ok_or_else(
                                || {
                                    TaxiiError::BadRequest(format!(
                                        "match[version] {other:?} is not first, last, all or a timestamp"
                                    ))
                                },
                            )?),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(filter)
    }

    pub(super) fn wants_version(&self, revision: i32, readable: &[(i32, NaiveDateTime)]) -> bool {
        let versions: &[VersionMatch] = if self.versions.is_empty() {
            &[VersionMatch::Last]
        } else {
            &self.versions
        };
        versions.iter().any(|v| match v {
            VersionMatch::All => true,
            VersionMatch::First => readable.first().map(|r| r.0) == Some(revision),
            VersionMatch::Last => readable.last().map(|r| r.0) == Some(revision),
            VersionMatch::At(at) => readable
                .iter()
                .any(|(r, modified)| *r == revision && modified.and_utc() == *at),
        })
    }

    pub(super) fn wants_object(&self, object: &Value) -> bool {
        let field = |name: &str| object.get(name).and_then(Value::as_str).unwrap_or_default();
        (self.ids.is_empty() || self.ids.iter().any(|i| i == field("id")))
            && (self.types.is_empty() || self.types.iter().any(|t| t == field("type")))
            && (self.spec_versions.is_empty()
                || self.spec_versions.iter().any(|v| v == stix::SPEC_VERSION))
    }
}

/// Objects with the time each was added, and where to go on.
#[derive(Debug, Default)]
pub struct Page {
    pub objects: Vec<(Value, NaiveDateTime)>,
    pub more: bool,
    pub next: Option<String>,
    /// `record@revision` of every revision shown, for the audit log.
    pub(super) shown: Vec<String>,
    /// (id, version) of every object on the page.
    served: HashSet<(String, String)>,
}

impl Page {
    /// Whether `object` (this version of it) is not on the page yet; an
    /// object that is not is only counted by the caller's position.
    pub(super) fn first_time(&self, object: &Value) -> bool {
        let field = |name: &str| object.get(name).and_then(Value::as_str).unwrap_or_default();
        let key = (field("id").to_owned(), field("modified").to_owned());
        !self.served.contains(&key)
    }

    pub(super) fn push(&mut self, object: Value, added: NaiveDateTime) {
        let field = |name: &str| object.get(name).and_then(Value::as_str).unwrap_or_default();
        let key = (field("id").to_owned(), field("modified").to_owned());
        self.served.insert(key);
        self.objects.push((object, added));
    }

    /// `X-TAXII-Date-Added-First` and `-Last`.
    pub fn date_added_range(&self) -> Option<(String, String)> {
        let first = self.objects.first()?.1;
        let last = self.objects.last()?.1;
        Some((stix::naive_timestamp(&first), stix::naive_timestamp(&last)))
    }
}

impl Page {
    /// The objects, as an envelope.
    pub fn into_envelope(self) -> Envelope {
        Envelope {
            more: self.more,
            next: self.next,
            objects: self.objects.into_iter().map(|(o, _)| o).collect(),
        }
    }

    /// The objects' ids, versions and dates added.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            more: self.more,
            next: self.next.clone(),
            objects: self
                .objects
                .iter()
                .map(|(o, added)| ManifestEntry {
                    id: o["id"].as_str().unwrap_or_default().to_owned(),
                    date_added: stix::naive_timestamp(added),
                    version: version_of(o, added),
                    media_type: stix::STIX_MEDIA_TYPE.into(),
                })
                .collect(),
        }
    }

    /// The objects' versions.
    pub fn versions(&self) -> Versions {
        Versions {
            more: self.more,
            next: self.next.clone(),
            versions: self
                .objects
                .iter()
                .map(|(o, added)| version_of(o, added))
                .collect(),
        }
    }
}

/// The version of an object, as manifests and version lists show it.
pub fn version_of(object: &Value, added: &NaiveDateTime) -> String {
    object
        .get("modified")
        .or_else(|| object.get("created"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| stix::naive_timestamp(added))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters_parse_and_refuse_bad_values() {
        let filter = ObjectFilter::parse(&query(&[
            ("limit", "5000"),
            ("next", "12.3"),
            ("match[type]", "indicator,relationship"),
            ("match[version]", "all"),
            ("added_after", "2026-01-01T00:00:00Z"),
        ]))
        .unwrap();
        assert_eq!(filter.limit, MAX_LIMIT);
        assert_eq!(filter.next.as_deref(), Some("12.3"));
        assert_eq!(filter.types, vec!["indicator", "relationship"]);
        for bad in [
            ("limit", "0"),
            ("limit", "ten"),
            ("added_after", "yesterday"),
            ("match[version]", "newest"),
        ] {
            assert!(
                matches!(
                    ObjectFilter::parse(&query(&[bad])),
                    Err(TaxiiError::BadRequest(_))
                ),
                "{bad:?}"
            );
        }
    }
}
