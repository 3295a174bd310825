-- Report editions: what each analyze run showed, kept so the next report can say what changed
-- since ("Since last report" page and feed.xml). series_status holds only the latest build.

-- One row per analyze build (an edition of the report), numbered in the order they were built.
-- An as-of rebuild of the latest edition from the same inputs (fit, as-of date, decisions,
-- last update of the fit) replaces it instead of adding one: rebuilding it changes nothing.
create table if not exists report_editions (
    edition             integer primary key,
    topic_run_id        varchar not null,
    last_update_run_id  varchar,
    as_of               date,
    built_at            timestamp not null,
    decisions           varchar not null,
    recorded_at         timestamp not null
);

-- One row per (edition, kind, source, period_grain, series_key): each series' status in that
-- edition. series_key lasts across refits: a topic's stable id (its fit-local
-- 'fit:<run>:<topic>' before stable ids), a theme's id.
create table if not exists edition_statuses (
    edition       integer not null,
    kind          varchar not null,
    source        varchar not null,
    period_grain  varchar not null,
    series_key    varchar not null,
    series_id     varchar not null,
    label         varchar,
    status        varchar,
    papers        integer,
    recent_share  double,
    primary key (edition, kind, source, period_grain, series_key)
);
