ALTER TABLE org_certificates DROP COLUMN pending_until;
ALTER TABLE api_clients DROP COLUMN pending_until;
