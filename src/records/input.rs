//! A submitted record, as sent, and its parsing into a validated record.
//! Every problem is reported with the item's index and the field's name.
use super::view::{AudienceView, ProvenanceView, RecordContent, SightingDetails};
use crate::auth::Caller;
use crate::domain::chains::{Chain, ChainAddress};
use crate::domain::{
    Attribution, Audience, Category, CommunityId, ExternalReference, Method, OrganizationId,
    RecordBody, RecordKind, Relation, Sharing, Sighting, SightingContext, SightingTarget, Tlp,
};
use crate::error::FieldError;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeSet;
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceInput {
    #[serde(default)]
    pub all_partners: bool,
    /// Organization ids, at most 100.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub organizations: Vec<String>,
    /// Community ids, at most 100.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub communities: Vec<String>,
}

/// One record to create. Which fields apply depends on `kind`:
/// `address` (chain, address), `wallet` (chain, name), `entity` (name,
/// entity_type, aliases), `relationship` (relation, from, to), `sighting`
/// (sighting_of or chain and address; seen_at, count, context).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    /// address, wallet, entity, relationship or sighting.
    pub kind: String,
    /// Chain id or alias (btc, eth, trx, bsc, …), or an asset ticker as used by sanctions lists (XBT, USDT, …).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub chain: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub address: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub entity_type: Option<String>,
    /// Entities: other names, at most 100, each 1 to 500 characters.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub aliases: Vec<String>,
    /// member_of, attributed_to or related_to.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub relation: Option<String>,
    /// Relationships: the id of the record the claim is about.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub from: Option<String>,
    /// Relationships: the id of the other end.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub to: Option<String>,
    /// Sightings: the id of the record seen (or give chain and address instead).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub sighting_of: Option<String>,
    /// Sightings: when it was seen (RFC 3339, 1970 to 9999, not in the future).
    #[serde(default)]
    pub seen_at: Option<DateTime<Utc>>,
    /// Sightings: how many times (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub count: Option<i64>,
    /// Sightings: deposit, withdrawal, ad, seizure, victim_report or other.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub context: Option<String>,
    /// Categories of the taxonomy, at most 14.
    #[serde(default)]
    #[schema(max_items = 14)]
    pub categories: Vec<String>,
    /// 0–100.
    #[schema(minimum = 0, maximum = 100)]
    pub confidence: Option<i64>,
    /// RFC 3339, 1970 to 9999.
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    /// RFC 3339, 1970 to 9999, not before `valid_from`.
    #[serde(default)]
    pub valid_until: Option<DateTime<Utc>>,
    /// Free text, at most 10,000 characters; tab and line feed are the only control characters allowed.
    #[serde(default)]
    #[schema(max_length = 10_000)]
    pub description: String,
    /// At most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub external_references: Vec<ExternalReference>,
    /// clear, green, amber, amber+strict or red (TLP: prefix accepted).
    pub tlp: String,
    #[serde(default)]
    pub audience: AudienceInput,
    #[serde(default)]
    pub attribution: Attribution,
    /// When the source observed it (RFC 3339, 1970 to 9999).
    #[serde(default)]
    pub observed_at: Option<DateTime<Utc>>,
    /// blockchain_analysis, investigation, osint, victim_report, law_enforcement, sighting, import or other.
    #[schema(max_length = 500)]
    pub method: String,
    /// A case number or report URL, at most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub source_reference: Option<String>,
    /// Ids of records this one builds on, at most 100.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub derived_from: Vec<String>,
}

/// A record that passed every check that needs no database.
#[derive(Debug, Clone)]
pub struct ParsedRecord {
    pub body: RecordBody,
    pub categories: BTreeSet<Category>,
    pub confidence: u8,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub description: String,
    pub external_references: Vec<ExternalReference>,
    pub sharing: Sharing,
    pub attribution: Attribution,
    pub observed_at: Option<DateTime<Utc>>,
    pub method: Method,
    pub source_reference: Option<String>,
    pub derived_from: Vec<String>,
}

/// The longest description, in characters.
pub const MAX_TEXT: usize = 10_000;
/// The most times one sighting may report.
const MAX_SIGHTING_COUNT: i64 = 1_000_000_000;
/// How far in the future a `seen_at` may be (the sighter's clock may run ahead).
const MAX_CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// The longest name, alias, chain, address, reference or other short text, in characters.
pub const MAX_NAME: usize = 500;
/// The longest external reference URL, in characters.
pub const MAX_URL: usize = 2_048;
/// The most aliases of an entity.
pub const MAX_ALIASES: usize = 100;
/// The most categories (the taxonomy has 14).
pub const MAX_CATEGORIES: usize = 14;
/// The most external references of a record.
pub const MAX_EXTERNAL_REFERENCES: usize = 50;
/// The most records one record is derived from.
pub const MAX_DERIVED_FROM: usize = 100;
/// The most organizations, and the most communities, in an audience.
pub const MAX_AUDIENCE: usize = 100;

struct Errors {
    index: usize,
    list: Vec<FieldError>,
    /// Fields already refused for their shape (control characters, length,
    /// too many items): their other checks would only repeat the value.
    refused: BTreeSet<String>,
}

impl Errors {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        if self.refused.contains(field) {
            return;
        }
        self.list.push(FieldError {
            index: Some(self.index),
            field: field.into(),
            message: message.into(),
        });
    }
    fn check<T, E: std::fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result.map_err(|e| self.add(field, e.to_string())).ok()
    }

    /// Refuses `value` under `field` when it holds a control character or
    /// is longer than `max`; later checks of that field are then skipped.
    fn shape(&mut self, field: &str, value: &str, max: usize, free_text: bool) {
        if let Some(problem) = crate::domain::text_problem(value, max, free_text) {
            self.add(field, problem);
            self.refused.insert(field.to_owned());
        }
    }

    /// Refuses a list longer than `max` (its items are then not checked).
    fn at_most(&mut self, field: &str, len: usize, max: usize) -> bool {
        if len > max {
            self.add(field, format!("at most {max} items (got {len})"));
            self.refused.insert(field.to_owned());
            return false;
        }
        true
    }

    /// Refuses an instant outside the range records may name.
    fn instant(&mut self, field: &str, at: Option<DateTime<Utc>>) {
        if let Some(at) = at {
            if let Err(problem) = crate::domain::check_instant(&at) {
                self.add(field, problem);
                self.refused.insert(field.to_owned());
            }
        }
    }
}

fn is_record_id(value: &str) -> bool {
    uuid::Uuid::parse_str(value).is_ok()
}

impl RecordInput {
    pub fn parse(self, index: usize) -> Result<ParsedRecord, Vec<FieldError>> {
        let mut errors = Errors {
            index,
            list: Vec::new(),
            refused: BTreeSet::new(),
        };
        self.check_shapes(&mut errors);
        let kind = errors.check("kind", self.kind.parse::<RecordKind>());
        let body = kind.and_then(|kind| self.parse_body(kind, &mut errors));

        let mut categories = BTreeSet::new();
        for category in self.categories.iter().take(MAX_CATEGORIES) {
            if let Some(c) = errors.check("categories", category.parse::<Category>()) {
                categories.insert(c);
            }
        }
        let confidence = match self.confidence {
            Some(c @ 0..=100) => Some(c as u8),
            Some(other) => {
                errors.add("confidence", format!("must be 0 to 100 (got {other})"));
                None
            }
            None => {
                errors.add("confidence", "is required (0 to 100)");
                None
            }
        };
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            if until < from {
                errors.add("valid_until", "is before valid_from");
            }
        }
        for (i, reference) in self
            .external_references
            .iter()
            .take(MAX_EXTERNAL_REFERENCES)
            .enumerate()
        {
            if reference.source_name.trim().is_empty() {
                errors.add(
                    &format!("external_references/{i}/source_name"),
                    "must not be empty",
                );
            }
            if let Some(url) = &reference.url {
                if url::Url::parse(url).is_err() {
                    errors.add(
                        &format!("external_references/{i}/url"),
                        format!("{url:?} is not a URL"),
                    );
                }
            }
        }
        let tlp = errors.check("tlp", self.tlp.parse::<Tlp>());
        let mut audience = Audience {
            all_partners: self.audience.all_partners,
            ..Audience::default()
        };
        for org in self.audience.organizations.iter().take(MAX_AUDIENCE) {
            if let Some(org) = errors.check("audience.organizations", OrganizationId::parse(org)) {
                audience.organizations.insert(org);
            }
        }
        for community in self.audience.communities.iter().take(MAX_AUDIENCE) {
            if let Some(c) = errors.check("audience.communities", CommunityId::parse(community)) {
                audience.communities.insert(c);
            }
        }
        let sharing = tlp.and_then(|tlp| errors.check("audience", Sharing::new(tlp, audience)));
        let method = errors.check("method", self.method.parse::<Method>());
        for (i, id) in self.derived_from.iter().take(MAX_DERIVED_FROM).enumerate() {
            if !is_record_id(id) {
                errors.add(
                    &format!("derived_from/{i}"),
                    format!("{id:?} is not a record id"),
                );
            }
        }

        match (body, confidence, sharing, method) {
            (Some(body), Some(confidence), Some(sharing), Some(method))
                if errors.list.is_empty() =>
            {
                Ok(ParsedRecord {
                    body,
                    categories,
                    confidence,
                    valid_from: self.valid_from,
                    valid_until: self.valid_until,
                    description: self.description,
                    external_references: self.external_references,
                    sharing,
                    attribution: self.attribution,
                    observed_at: self.observed_at,
                    method,
                    source_reference: self.source_reference,
                    derived_from: self.derived_from,
                })
            }
            _ => Err(errors.list),
        }
    }

    /// The checks every field gets before its meaning is looked at: no
    /// control characters (tab and line feed in the description only), no
    /// string longer than its maximum, no list longer than its maximum, no
    /// instant outside 1970..=9999. Lists are checked item by item.
    fn check_shapes(&self, errors: &mut Errors) {
        let short = [
            ("kind", Some(&self.kind)),
            ("chain", self.chain.as_ref()),
            ("address", self.address.as_ref()),
            ("name", self.name.as_ref()),
            ("entity_type", self.entity_type.as_ref()),
            ("relation", self.relation.as_ref()),
            ("from", self.from.as_ref()),
            ("to", self.to.as_ref()),
            ("sighting_of", self.sighting_of.as_ref()),
            ("context", self.context.as_ref()),
            ("tlp", Some(&self.tlp)),
            ("method", Some(&self.method)),
            ("source_reference", self.source_reference.as_ref()),
        ];
        for (field, value) in short {
            if let Some(value) = value {
                errors.shape(field, value, MAX_NAME, false);
            }
        }
        errors.shape("description", &self.description, MAX_TEXT, true);
        if errors.at_most("aliases", self.aliases.len(), MAX_ALIASES) {
            for (i, alias) in self.aliases.iter().enumerate() {
                errors.shape(&format!("aliases/{i}"), alias, MAX_NAME, false);
            }
        }
        if errors.at_most("categories", self.categories.len(), MAX_CATEGORIES) {
            for category in &self.categories {
                errors.shape("categories", category, MAX_NAME, false);
            }
        }
        if errors.at_most(
            "external_references",
            self.external_references.len(),
            MAX_EXTERNAL_REFERENCES,
        ) {
            for (i, reference) in self.external_references.iter().enumerate() {
                let field = |name: &str| format!("external_references/{i}/{name}");
                errors.shape(
                    &field("source_name"),
                    &reference.source_name,
                    MAX_NAME,
                    false,
                );
                if let Some(url) = &reference.url {
                    errors.shape(&field("url"), url, MAX_URL, false);
                }
                if let Some(id) = &reference.external_id {
                    errors.shape(&field("external_id"), id, MAX_NAME, false);
                }
            }
        }
        if errors.at_most("derived_from", self.derived_from.len(), MAX_DERIVED_FROM) {
            for (i, id) in self.derived_from.iter().enumerate() {
                errors.shape(&format!("derived_from/{i}"), id, MAX_NAME, false);
            }
        }
        for (field, list) in [
            ("audience.organizations", &self.audience.organizations),
            ("audience.communities", &self.audience.communities),
        ] {
            if errors.at_most(field, list.len(), MAX_AUDIENCE) {
                for value in list {
                    errors.shape(field, value, MAX_NAME, false);
                }
            }
        }
        errors.instant("valid_from", self.valid_from);
        errors.instant("valid_until", self.valid_until);
        errors.instant("observed_at", self.observed_at);
        errors.instant("seen_at", self.seen_at);
    }

    fn text(errors: &mut Errors, field: &str, value: &Option<String>) -> Option<String> {
        match value.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() && v.chars().count() <= MAX_NAME => Some(v.to_owned()),
            Some(v) if !v.is_empty() => {
                errors.add(field, format!("at most {MAX_NAME} characters"));
                None
            }
            _ => {
                errors.add(field, "is required");
                None
            }
        }
    }

    fn parse_body(&self, kind: RecordKind, errors: &mut Errors) -> Option<RecordBody> {
        let allowed: &[&str] = match kind {
            RecordKind::Address => &["chain", "address"],
            RecordKind::Wallet => &["chain", "name"],
            RecordKind::Entity => &["name", "entity_type", "aliases"],
            RecordKind::Relationship => &["relation", "from", "to"],
            RecordKind::Sighting => &[
                "chain",
                "address",
                "sighting_of",
                "seen_at",
                "count",
                "context",
            ],
        };
        let present = [
            ("chain", self.chain.is_some()),
            ("address", self.address.is_some()),
            ("name", self.name.is_some()),
            ("entity_type", self.entity_type.is_some()),
            ("aliases", !self.aliases.is_empty()),
            ("relation", self.relation.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("sighting_of", self.sighting_of.is_some()),
            ("seen_at", self.seen_at.is_some()),
            ("count", self.count.is_some()),
            ("context", self.context.is_some()),
        ];
        for (name, is_present) in present {
            if is_present && !allowed.contains(&name) {
                errors.add(name, format!("does not apply to a {kind} record"));
            }
        }
        match kind {
            RecordKind::Address => self.parse_address(errors).map(RecordBody::Address),
            RecordKind::Wallet => {
                let chain = Self::text(errors, "chain", &self.chain);
                let chain = chain.and_then(|c| {
                    let parsed = Chain::parse(&c);
                    if parsed.is_none() {
                        errors.add("chain", format!("unknown chain {c:?}"));
                    }
                    parsed
                });
                let name = Self::text(errors, "name", &self.name);
                Some(RecordBody::Wallet {
                    chain: chain?,
                    name: name?,
                })
            }
            RecordKind::Entity => {
                let name = Self::text(errors, "name", &self.name);
                let entity_type = Self::text(errors, "entity_type", &self.entity_type);
                let mut aliases = Vec::new();
                for (i, alias) in self.aliases.iter().take(MAX_ALIASES).enumerate() {
                    match alias.trim() {
                        "" => errors.add(&format!("aliases/{i}"), "must not be empty"),
                        a => aliases.push(a.to_owned()),
                    }
                }
                Some(RecordBody::Entity {
                    name: name?,
                    entity_type: entity_type?,
                    aliases,
                })
            }
            RecordKind::Relationship => {
                let relation = Self::text(errors, "relation", &self.relation)
                    .and_then(|r| errors.check("relation", r.parse::<Relation>()));
                let mut end = |name: &str, value: &Option<String>| {
                    let id = Self::text(errors, name, value)?;
                    if is_record_id(&id) {
                        Some(id)
                    } else {
                        errors.add(name, format!("{id:?} is not a record id"));
                        None
                    }
                };
                let from = end("from", &self.from);
                let to = end("to", &self.to);
                Some(RecordBody::Relationship {
                    relation: relation?,
                    from: from?,
                    to: to?,
                })
            }
            RecordKind::Sighting => self.parse_sighting(errors).map(RecordBody::Sighting),
        }
    }

    /// `chain` and `address`, the address checked for that chain (or asset).
    fn parse_address(&self, errors: &mut Errors) -> Option<ChainAddress> {
        let chain = Self::text(errors, "chain", &self.chain)?;
        let address = Self::text(errors, "address", &self.address)?;
        let parsed = match Chain::parse(&chain) {
            Some(chain) => ChainAddress::parse(chain, &address),
            None if crate::domain::chains::asset_chains(&chain).is_some() => {
                crate::domain::chains::parse_asset_address(&chain, &address)
            }
            None => {
                errors.add("chain", format!("unknown chain or asset {chain:?}"));
                return None;
            }
        };
        errors.check("address", parsed)
    }

    fn parse_sighting(&self, errors: &mut Errors) -> Option<Sighting> {
        let names_address = self.chain.is_some() || self.address.is_some();
        let seen = match (&self.sighting_of, names_address) {
            (Some(_), true) => {
                errors.add(
                    "sighting_of",
                    "give either sighting_of (a record id) or chain and address, not both",
                );
                None
            }
            (Some(id), false) if is_record_id(id) => Some(SightingTarget::Record(id.clone())),
            (Some(id), false) => {
                errors.add("sighting_of", format!("{id:?} is not a record id"));
                None
            }
            (None, true) => self.parse_address(errors).map(SightingTarget::Address),
            (None, false) => {
                errors.add(
                    "sighting_of",
                    "is required (a record id), unless chain and address name what was seen",
                );
                None
            }
        };
        let seen_at = match self.seen_at {
            Some(at) if at > Utc::now() + MAX_CLOCK_SKEW => {
                errors.add("seen_at", "is in the future");
                None
            }
            Some(at) => Some(at),
            None => {
                errors.add("seen_at", "is required");
                None
            }
        };
        let count = match self.count.unwrap_or(1) {
            n @ 1..=MAX_SIGHTING_COUNT => Some(n as u32),
            other => {
                errors.add(
                    "count",
                    format!("must be 1 to {MAX_SIGHTING_COUNT} (got {other})"),
                );
                None
            }
        };
        let context = Self::text(errors, "context", &self.context)
            .and_then(|c| errors.check("context", c.parse::<SightingContext>()));
        Some(Sighting {
            seen: seen?,
            seen_at: seen_at?,
            count: count?,
            context: context?,
        })
    }
}

impl ParsedRecord {
    /// Ids of other records this one refers to.
    pub fn referenced_ids(&self) -> Vec<String> {
        let mut ids = self.derived_from.clone();
        match &self.body {
            RecordBody::Relationship { from, to, .. } => {
                ids.push(from.clone());
                ids.push(to.clone());
            }
            RecordBody::Sighting(Sighting {
                seen: SightingTarget::Record(id),
                ..
            }) => ids.push(id.clone()),
            _ => {}
        }
        ids
    }

    /// The first revision's content, with provenance from the authenticated caller.
    pub fn into_content(
        self,
        id: String,
        caller: &Caller,
        received_at: NaiveDateTime,
    ) -> RecordContent {
        let (mut chain, mut address, mut name, mut entity_type, mut aliases) =
            (None, None, None, None, Vec::new());
        let (mut relation, mut from, mut to) = (None, None, None);
        let mut sighting = None;
        let kind = self.body.kind();
        match self.body {
            RecordBody::Address(parsed) => {
                chain = Some(parsed.chain().id().to_owned());
                address = Some(parsed.canonical().to_owned());
            }
            RecordBody::Wallet { chain: c, name: n } => {
                chain = Some(c.id().to_owned());
                name = Some(n);
            }
            RecordBody::Entity {
                name: n,
                entity_type: t,
                aliases: a,
            } => {
                name = Some(n);
                entity_type = Some(t);
                aliases = a;
            }
            RecordBody::Relationship {
                relation: r,
                from: f,
                to: t,
            } => {
                relation = Some(r);
                from = Some(f);
                to = Some(t);
            }
            RecordBody::Sighting(s) => {
                let of = match s.seen {
                    SightingTarget::Record(id) => Some(id),
                    SightingTarget::Address(parsed) => {
                        chain = Some(parsed.chain().id().to_owned());
                        address = Some(parsed.canonical().to_owned());
                        None
                    }
                };
                sighting = Some(SightingDetails {
                    of,
                    seen_at: s.seen_at,
                    count: s.count,
                    context: s.context,
                });
            }
        }
        let audience = self.sharing.audience();
        RecordContent {
            id,
            kind,
            chain,
            address,
            name,
            entity_type,
            aliases,
            relation,
            from,
            to,
            sighting,
            categories: self.categories.into_iter().collect(),
            confidence: self.confidence,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            description: self.description,
            external_references: self.external_references,
            tlp: self.sharing.tlp(),
            audience: AudienceView {
                all_partners: audience.all_partners,
                organizations: audience
                    .organizations
                    .iter()
                    .map(|o| o.to_string())
                    .collect(),
                communities: audience.communities.iter().map(|c| c.to_string()).collect(),
            },
            attribution: self.attribution,
            provenance: ProvenanceView {
                source_organization: Some(caller.organization.to_string()),
                submitted_by: Some(caller.client_id.clone()),
                received_at: received_at.and_utc(),
                observed_at: self.observed_at,
                method: self.method,
                source_reference: self.source_reference,
                derived_from: self.derived_from,
            },
            revision: 1,
            revoked: false,
        }
    }
}
