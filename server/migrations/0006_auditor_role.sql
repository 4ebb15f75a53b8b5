-- Auditors read the forensic trail and nothing else.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('fan', 'artist', 'moderator', 'admin', 'auditor'));
