DROP TABLE signing_keys;
DROP TABLE community_members;
DROP TABLE communities;
DROP TABLE api_clients;
DROP TABLE org_certificates;
DROP TABLE organizations;
