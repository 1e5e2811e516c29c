-- How far the trail's rows have been published as AuditChainLinks (services/audit/links.py),
-- so readers (the gateway's GET /v1/audit) can show each message's hash and prev_hash.
-- One row, moved forward in the transaction that enqueues the links; not part of the trail.
CREATE TABLE audit_links_cursor (
    id          BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    through_seq BIGINT NOT NULL CHECK (through_seq >= 0)
);
INSERT INTO audit_links_cursor (through_seq) VALUES (0);
