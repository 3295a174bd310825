-- Themes users name, their vectors, and which papers belong to them; statistics macros the
-- marts (and analysts) share.

-- One row per theme of the themes file, as of the last analyze.
create table if not exists themes (
    theme_id          varchar primary key,
    name              varchar not null,
    description       varchar,
    seeds             varchar[] not null,
    keywords          varchar[] not null,
    threshold         double not null,
    threshold_strong  double not null
);

-- One row per (theme, model, seed-phrase hash): the mean seed embedding, so analyze needs no
-- model when the themes file has not changed.
create table if not exists theme_vectors (
    theme_id      varchar not null,
    model         varchar not null,
    seeds_hash    varchar not null,
    vector        float[] not null,
    primary key (theme_id, model, seeds_hash)
);

-- One row per (theme, paper with a current embedding): the evidence and the verdict.
create table if not exists paper_themes (
    theme_id      varchar not null,
    paper_id      varchar not null,
    similarity    double not null,
    keyword_hit   boolean not null,
    is_member     boolean not null,
    primary key (theme_id, paper_id)
);

-- 95% Wilson score interval of k successes in n trials.
create or replace macro wilson_low(k, n) as
    case when n = 0 then null else greatest(0.0,
        (k / n + 1.96 ^ 2 / (2 * n) - 1.96 * sqrt(k / n * (1 - k / n) / n + 1.96 ^ 2 / (4 * n ^ 2)))
        / (1 + 1.96 ^ 2 / n)) end;

create or replace macro wilson_high(k, n) as
    case when n = 0 then null else least(1.0,
        (k / n + 1.96 ^ 2 / (2 * n) + 1.96 * sqrt(k / n * (1 - k / n) / n + 1.96 ^ 2 / (4 * n ^ 2)))
        / (1 + 1.96 ^ 2 / n)) end;

-- Standard normal CDF (Zelen & Severo 26.2.17, absolute error < 7.5e-8).
create or replace macro norm_cdf(z) as
    case when z is null then null
         when z >= 0 then 1 - exp(-z * z / 2) / sqrt(2 * pi()) * (
             0.319381530 * (1 / (1 + 0.2316419 * z))
           - 0.356563782 * (1 / (1 + 0.2316419 * z)) ^ 2
           + 1.781477937 * (1 / (1 + 0.2316419 * z)) ^ 3
           - 1.821255978 * (1 / (1 + 0.2316419 * z)) ^ 4
           + 1.330274429 * (1 / (1 + 0.2316419 * z)) ^ 5)
         else exp(-z * z / 2) / sqrt(2 * pi()) * (
             0.319381530 * (1 / (1 - 0.2316419 * z))
           - 0.356563782 * (1 / (1 - 0.2316419 * z)) ^ 2
           + 1.781477937 * (1 / (1 - 0.2316419 * z)) ^ 3
           - 1.821255978 * (1 / (1 - 0.2316419 * z)) ^ 4
           + 1.330274429 * (1 / (1 - 0.2316419 * z)) ^ 5) end;
