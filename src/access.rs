//! The one place that decides who may read a record.
//!
//! Every path that returns data (get, list, search, lookups, revisions,
//! relationships, sightings, the change feed, TAXII, exports, counts) asks
//! [`can_read`] for records in memory, or filters its query with the SQL
//! form of the same rule built by the storage layer from [`Reader`]. The
//! table-driven tests below pin the rule; integration tests check that each
//! path applies it.
use crate::domain::{CommunityId, OrganizationId, Sharing, Tlp};

/// Who is reading: an organization and the communities it belongs to.
/// Scopes (including `admin`) grant no extra read rights.
#[derive(Debug, Clone)]
pub struct Reader {
    pub organization: OrganizationId,
    pub communities: Vec<CommunityId>,
}

/// May `reader` read a record (or revision) from `source` shared as `sharing`?
///
/// - The source organization always reads its own records.
/// - CLEAR: every partner.
/// - GREEN: every partner when shared with all partners, else members of the named communities.
/// - AMBER: the named organizations and members of the named communities.
/// - AMBER+STRICT, RED: the named organizations only.
pub fn can_read(reader: &Reader, source: &OrganizationId, sharing: &Sharing) -> bool {
    if &reader.organization == source {
        return true;
    }
    let audience = sharing.audience();
    let named = audience.organizations.contains(&reader.organization);
    let in_community = reader
        .communities
        .iter()
        .any(|c| audience.communities.contains(c));
    match sharing.tlp() {
        Tlp::Clear => true,
        Tlp::Green => audience.all_partners || in_community,
        Tlp::Amber => named || in_community,
        Tlp::AmberStrict | Tlp::Red => named,
    }
}

/// May `reader` see who the source of a record is?
pub fn can_see_source(reader: &Reader, source: &OrganizationId, anonymous: bool) -> bool {
    !anonymous || &reader.organization == source
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Audience;
    use std::collections::BTreeSet;

    fn org(id: &str) -> OrganizationId {
        OrganizationId::parse(id).unwrap()
    }

    /// How the reader relates to the record.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Relation {
        Source,
        NamedRecipient,
        CommunityMember,
        OtherPartner,
        HubAdmin,
    }

    #[derive(Debug, Clone, Copy)]
    enum AudienceKind {
        AllPartners,
        NamedOrganization,
        Community,
    }

    fn reader(relation: Relation) -> Reader {
        let (id, communities) = match relation {
            Relation::Source => ("acme", vec![]),
            Relation::NamedRecipient => ("ngo", vec![]),
            Relation::CommunityMember => ("member", vec![CommunityId::parse("at").unwrap()]),
            Relation::OtherPartner => {
                ("exchange", vec![CommunityId::parse("other-group").unwrap()])
            }
            Relation::HubAdmin => ("hub", vec![]),
        };
        Reader {
            organization: org(id),
            communities,
        }
    }

    fn sharing(tlp: Tlp, kind: AudienceKind) -> Option<Sharing> {
        let audience = match kind {
            AudienceKind::AllPartners => Audience {
                all_partners: true,
                ..Audience::default()
            },
            AudienceKind::NamedOrganization => Audience {
                organizations: BTreeSet::from([org("ngo")]),
                ..Audience::default()
            },
            AudienceKind::Community => Audience {
                communities: BTreeSet::from([CommunityId::parse("at").unwrap()]),
                ..Audience::default()
            },
        };
        Sharing::new(tlp, audience).ok()
    }

    /// Every TLP × audience × reader relation. `None` rows are combinations
    /// the brief forbids (refused when written).
    #[test]
    fn read_access_table() {
        use AudienceKind::*;
        use Relation::*;
        // (tlp, audience, [source, named recipient, community member, other partner, hub admin])
        let table: [(Tlp, AudienceKind, Option<[bool; 5]>); 15] = [
            (
                Tlp::Clear,
                AllPartners,
                Some([true, true, true, true, true]),
            ),
            (
                Tlp::Clear,
                NamedOrganization,
                Some([true, true, true, true, true]),
            ), // normalized to all partners
            (Tlp::Clear, Community, Some([true, true, true, true, true])),
            (
                Tlp::Green,
                AllPartners,
                Some([true, true, true, true, true]),
            ),
            (Tlp::Green, NamedOrganization, None),
            (
                Tlp::Green,
                Community,
                Some([true, false, true, false, false]),
            ),
            (Tlp::Amber, AllPartners, None),
            (
                Tlp::Amber,
                NamedOrganization,
                Some([true, true, false, false, false]),
            ),
            (
                Tlp::Amber,
                Community,
                Some([true, false, true, false, false]),
            ),
            (Tlp::AmberStrict, AllPartners, None),
            (
                Tlp::AmberStrict,
                NamedOrganization,
                Some([true, true, false, false, false]),
            ),
            (Tlp::AmberStrict, Community, None),
            (Tlp::Red, AllPartners, None),
            (
                Tlp::Red,
                NamedOrganization,
                Some([true, true, false, false, false]),
            ),
            (Tlp::Red, Community, None),
        ];
        let relations = [
            Source,
            NamedRecipient,
            CommunityMember,
            OtherPartner,
            HubAdmin,
        ];
        for (tlp, kind, expected) in table {
            let sharing = sharing(tlp, kind);
            assert_eq!(
                sharing.is_some(),
                expected.is_some(),
                "{tlp} {kind:?} allowed?"
            );
            let (Some(sharing), Some(expected)) = (sharing, expected) else {
                continue;
            };
            for (relation, visible) in relations.into_iter().zip(expected) {
                assert_eq!(
                    can_read(&reader(relation), &org("acme"), &sharing),
                    visible,
                    "{tlp} {kind:?} {relation:?}"
                );
            }
        }
    }

    #[test]
    fn anonymous_sources_are_hidden_from_everyone_but_the_source() {
        assert!(can_see_source(
            &reader(Relation::Source),
            &org("acme"),
            true
        ));
        for relation in [
            Relation::NamedRecipient,
            Relation::CommunityMember,
            Relation::OtherPartner,
            Relation::HubAdmin,
        ] {
            assert!(
                !can_see_source(&reader(relation), &org("acme"), true),
                "{relation:?}"
            );
            assert!(
                can_see_source(&reader(relation), &org("acme"), false),
                "{relation:?}"
            );
        }
    }
}
