-- Records that arrived through the job queue's outbox, by the key they were enqueued with:
-- a job retried after its append committed (a lost reply, a crash) appends nothing twice.
CREATE TABLE forensic_outbox_keys (
    key uuid PRIMARY KEY,
    seq bigint NOT NULL REFERENCES forensic_log (seq)
);
