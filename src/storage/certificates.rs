//! Client certificates registered to organizations, by SHA-256 fingerprint.
use super::schema::{org_certificates, organizations};
use super::{now, DbConnection, StorageError, StorageResult};
use crate::domain::OrganizationId;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = org_certificates)]
struct CertificateRow {
    fingerprint: String,
    organization_id: String,
    subject: String,
    serial: String,
    not_after: NaiveDateTime,
    created_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
    pending_until: Option<NaiveDateTime>,
}

/// A client certificate registered to an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredCertificate {
    /// Lower-case hex SHA-256 of the certificate's DER.
    pub fingerprint: String,
    pub organization_id: OrganizationId,
    pub subject: String,
    pub serial: String,
    pub not_after: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    /// Not in effect before this time unless the organization confirms it
    /// (None: in effect).
    pub pending_until: Option<NaiveDateTime>,
}

impl TryFrom<CertificateRow> for RegisteredCertificate {
    type Error = StorageError;
    fn try_from(row: CertificateRow) -> Result<Self, Self::Error> {
        Ok(RegisteredCertificate {
            organization_id: OrganizationId::parse(&row.organization_id)
                .map_err(|e| StorageError::Corrupt(e.to_string()))?,
            fingerprint: row.fingerprint,
            subject: row.subject,
            serial: row.serial,
            not_after: row.not_after,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            pending_until: row.pending_until,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewCertificate {
    pub fingerprint: String,
    pub organization_id: OrganizationId,
    pub subject: String,
    pub serial: String,
    pub not_after: NaiveDateTime,
    /// See [`RegisteredCertificate::pending_until`].
    pub pending_until: Option<NaiveDateTime>,
}

pub fn insert(
    conn: &mut DbConnection,
    new: NewCertificate,
) -> StorageResult<RegisteredCertificate> {
    let row = CertificateRow {
        fingerprint: new.fingerprint,
        organization_id: new.organization_id.to_string(),
        subject: new.subject,
        serial: new.serial,
        not_after: new.not_after,
        created_at: now(),
        revoked_at: None,
        pending_until: new.pending_until,
    };
    diesel::insert_into(org_certificates::table)
        .values(&row)
        .execute(conn)?;
    row.try_into()
}

pub fn list_for(
    conn: &mut DbConnection,
    organization: &OrganizationId,
) -> StorageResult<Vec<RegisteredCertificate>> {
    org_certificates::table
        .filter(org_certificates::organization_id.eq(organization.as_str()))
        .order(org_certificates::created_at)
        .select(CertificateRow::as_select())
        .load(conn)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

pub fn find(conn: &mut DbConnection, fingerprint: &str) -> StorageResult<RegisteredCertificate> {
    org_certificates::table
        .find(fingerprint)
        .select(CertificateRow::as_select())
        .first(conn)?
        .try_into()
}

/// What the registry says about a certificate fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Never registered.
    Unknown,
    /// Registered to an organization that is enabled.
    Active(OrganizationId),
    /// Registered, but withdrawn, still pending, or its organization is disabled.
    Refused,
}

pub fn registration(conn: &mut DbConnection, fingerprint: &str) -> StorageResult<Registration> {
    type Row = (
        String,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    );
    let row: Option<Row> = org_certificates::table
        .inner_join(organizations::table)
        .filter(org_certificates::fingerprint.eq(fingerprint))
        .select((
            org_certificates::organization_id,
            org_certificates::revoked_at,
            organizations::disabled_at,
            org_certificates::pending_until,
        ))
        .first(conn)
        .optional()?;
    let in_effect = |pending: Option<NaiveDateTime>| pending.is_none_or(|until| until <= now());
    Ok(match row {
        None => Registration::Unknown,
        Some((org, None, None, pending)) if in_effect(pending) => Registration::Active(
            OrganizationId::parse(&org).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        ),
        Some(_) => Registration::Refused,
    })
}

/// Does `organization` hold a certificate in effect (not withdrawn, not pending)?
pub fn has_one_in_effect(
    conn: &mut DbConnection,
    organization: &OrganizationId,
) -> StorageResult<bool> {
    let now = now();
    let count: i64 = org_certificates::table
        .filter(org_certificates::organization_id.eq(organization.as_str()))
        .filter(org_certificates::revoked_at.is_null())
        .filter(
            org_certificates::pending_until
                .is_null()
                .or(org_certificates::pending_until.le(now)),
        )
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// Puts a pending certificate of `organization` in effect now.
pub fn confirm(
    conn: &mut DbConnection,
    organization: &OrganizationId,
    fingerprint: &str,
) -> StorageResult<RegisteredCertificate> {
    let updated = diesel::update(
        org_certificates::table
            .find(fingerprint)
            .filter(org_certificates::organization_id.eq(organization.as_str()))
            .filter(org_certificates::revoked_at.is_null())
            .filter(org_certificates::pending_until.is_not_null()),
    )
    .set(org_certificates::pending_until.eq(None::<NaiveDateTime>))
    .execute(conn)?;
    if updated == 0 {
        return Err(StorageError::NotFound);
    }
    find(conn, fingerprint)
}

/// Withdraws a registration: the certificate no longer identifies anyone.
pub fn revoke(conn: &mut DbConnection, fingerprint: &str) -> StorageResult<RegisteredCertificate> {
    let updated = diesel::update(org_certificates::table.find(fingerprint))
        .set(org_certificates::revoked_at.eq(Some(now())))
        .execute(conn)?;
    if updated == 0 {
        return Err(StorageError::NotFound);
    }
    find(conn, fingerprint)
}
