-- Royalty reports from the DSPs, their lines, and what was posted to the ledger from them.
CREATE TABLE distribution_royalty_reports (
    id uuid PRIMARY KEY,
    dsp text NOT NULL,
    file_name text NOT NULL,
    sha256 text NOT NULL UNIQUE,  -- a re-sent file is the same report
    format text NOT NULL CHECK (format IN ('dsr', 'csv')),
    state text NOT NULL CHECK (state IN ('posted', 'rejected')),
    reason text,
    lines integer NOT NULL DEFAULT 0,
    new_lines integer NOT NULL DEFAULT 0,
    duplicate_lines integer NOT NULL DEFAULT 0,
    unknown_isrcs text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One line per natural key (store, period, ISRC, territory, use): an overlapping file adds
-- nothing twice. Amounts are the report's exact decimals; money is converted to minor units
-- once per posting (distribution_royalty_postings).
CREATE TABLE distribution_royalty_lines (
    natural_key text PRIMARY KEY,
    report_id uuid NOT NULL REFERENCES distribution_royalty_reports (id),
    dsp text NOT NULL,
    period_start date NOT NULL,
    period_end date NOT NULL,
    isrc text NOT NULL,
    territory text NOT NULL,
    use_type text NOT NULL,
    units numeric NOT NULL,
    gross numeric NOT NULL,
    currency char(3) NOT NULL,
    release_id uuid REFERENCES distribution_releases (id),  -- NULL: unknown ISRC, not posted
    artist_id uuid
);
CREATE INDEX distribution_royalty_lines_artist ON distribution_royalty_lines (artist_id, period_start);
CREATE INDEX distribution_royalty_lines_report ON distribution_royalty_lines (report_id);

CREATE TABLE distribution_royalty_postings (
    id uuid PRIMARY KEY,
    report_id uuid NOT NULL REFERENCES distribution_royalty_reports (id),
    artist_id uuid NOT NULL,
    dsp text NOT NULL,
    currency char(3) NOT NULL,
    gross bigint NOT NULL,
    platform_fee bigint NOT NULL,
    artist_share bigint NOT NULL,
    UNIQUE (report_id, artist_id, currency)
);
