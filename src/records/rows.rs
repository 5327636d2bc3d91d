//! A record's stored form: the rows its content is written as (the current
//! row with its search text, categories and screening bucket, the audience
//! rows, the link row) and the content and sharing read back from them.
use super::view::{AudienceView, RecordContent};
use crate::auth::Caller;
use crate::domain::{Attribution, Audience, CommunityId, OrganizationId, RecordKind, Sharing, Tlp};
use crate::storage::records::{self as store, AudienceRow, LinkRow, RecordRow};
use crate::storage::StorageError;

pub(super) fn audience_rows(content: &RecordContent) -> Vec<AudienceRow> {
    let orgs = content
        .audience
        .organizations
        .iter()
        .map(|o| (store::AUDIENCE_ORGANIZATION, o));
    let communities = content
        .audience
        .communities
        .iter()
        .map(|c| (store::AUDIENCE_COMMUNITY, c));
    orgs.chain(communities)
        .map(|(kind, member)| AudienceRow {
            record_id: content.id.clone(),
            member_kind: kind.into(),
            member: member.clone(),
        })
        .collect()
}

pub(super) fn record_row(
    content: &RecordContent,
    caller: &Caller,
    body: &str,
    hash: &str,
    at: chrono::NaiveDateTime,
) -> RecordRow {
    let link_key = match (&content.kind, &content.chain, &content.address) {
        (RecordKind::Address | RecordKind::Sighting, Some(chain), Some(address)) => {
            crate::domain::chains::Chain::parse(chain)
                .and_then(|c| crate::domain::chains::ChainAddress::parse(c, address).ok())
                .and_then(|a| a.link_keys().into_iter().next())
        }
        _ => None,
    };
    let link_key_bucket = link_key
        .as_deref()
        .map(|key| crate::domain::private_screening::bucket_of_key(key) as i32);
    let mut search = content.name.clone().unwrap_or_default();
    for alias in &content.aliases {
        search.push('\n');
        search.push_str(alias);
    }
    RecordRow {
        id: content.id.clone(),
        kind: content.kind.as_str().into(),
        source_org: caller.organization.to_string(),
        revision: content.revision,
        tlp: content.tlp.as_str().into(),
        all_partners: content.audience.all_partners,
        attribution: match content.attribution {
            Attribution::Named => "named".into(),
            Attribution::Anonymous => "anonymous".into(),
        },
        revoked: content.revoked,
        chain: content.chain.clone(),
        link_key,
        search_text: search.to_lowercase(),
        categories: format!(
            "|{}|",
            content
                .categories
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join("|")
        ),
        body: body.into(),
        content_hash: hash.into(),
        created_at: at,
        updated_at: at,
        screen_bucket: link_key_bucket,
    }
}

/// The sharing of a stored record (None when the stored values are not valid).
pub(super) fn sharing_of(row: &RecordRow, audience: &[AudienceRow]) -> Option<Sharing> {
    let tlp: Tlp = row.tlp.parse().ok()?;
    let mut wanted = Audience {
        all_partners: row.all_partners,
        ..Audience::default()
    };
    for member in audience {
        match member.member_kind.as_str() {
            store::AUDIENCE_ORGANIZATION => {
                wanted
                    .organizations
                    .insert(OrganizationId::parse(&member.member).ok()?);
            }
            store::AUDIENCE_COMMUNITY => {
                wanted
                    .communities
                    .insert(CommunityId::parse(&member.member).ok()?);
            }
            _ => return None,
        }
    }
    Sharing::new(tlp, wanted).ok()
}

pub(crate) fn parse_content(id: &str, body: &str) -> Result<RecordContent, StorageError> {
    serde_json::from_str(body).map_err(|e| StorageError::Corrupt(format!("record {id}: {e}")))
}

pub(super) fn source_of(row: &RecordRow) -> Result<OrganizationId, StorageError> {
    OrganizationId::parse(&row.source_org).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// The sharing a stored revision was written with.
pub(crate) fn content_sharing(content: &RecordContent) -> Option<Sharing> {
    stored_sharing(content.tlp, &content.audience)
}

/// The sharing of a stored revision from its TLP and audience (None when
/// the stored values are not valid).
pub(crate) fn stored_sharing(tlp: Tlp, stored: &AudienceView) -> Option<Sharing> {
    let mut audience = Audience {
        all_partners: stored.all_partners,
        ..Audience::default()
    };
    for org in &stored.organizations {
        audience
            .organizations
            .insert(OrganizationId::parse(org).ok()?);
    }
    for community in &stored.communities {
        audience
            .communities
            .insert(CommunityId::parse(community).ok()?);
    }
    Sharing::new(tlp, audience).ok()
}

/// The link a record makes: a relationship's two ends, or a sighting to the
/// record it names.
pub(super) fn link_row(content: &RecordContent) -> Option<LinkRow> {
    if let Some(details) = &content.sighting {
        return Some(LinkRow {
            relationship_id: content.id.clone(),
            relation: store::SIGHTING_OF.to_owned(),
            from_id: content.id.clone(),
            to_id: details.of.clone()?,
        });
    }
    Some(LinkRow {
        relationship_id: content.id.clone(),
        relation: content.relation?.as_str().to_owned(),
        from_id: content.from.clone()?,
        to_id: content.to.clone()?,
    })
}
