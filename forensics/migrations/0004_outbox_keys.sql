-- Records that arrived through the job queue's outbox, by the key they were enqueued with:
-- a job retried after its append committed (a lost reply, a crash) appends nothing twice.
-- `seq` names the record; no foreign key, so forensic_log keeps no dependants that would
-- change how its own guards (the triggers refusing UPDATE, DELETE, TRUNCATE) answer.
CREATE TABLE forensic_outbox_keys (
    key uuid PRIMARY KEY,
    seq bigint NOT NULL
);
