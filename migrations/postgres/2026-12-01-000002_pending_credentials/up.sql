-- A certificate or API client registered for an organization that is
-- already onboarded takes effect only once the organization confirms it
-- over its existing credentials, or when the operator's notice period ends
-- (pending_until). NULL: in effect (every existing registration stays so).
ALTER TABLE org_certificates ADD COLUMN pending_until TIMESTAMP;
ALTER TABLE api_clients ADD COLUMN pending_until TIMESTAMP;
