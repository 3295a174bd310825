-- Every full topic fit with its quality: coherence, diversity, outliers, seed stability (papers
-- that keep their topic when the fit is clustered again with seed + 1) and how many papers kept
-- their stable topic from the fit before.
select
    topic_run_id,
    created_at,
    model,
    seed,
    n_docs,
    n_topics,
    round(outlier_share, 3) as outlier_share,
    round(npmi, 3) as npmi,
    round(diversity, 3) as diversity,
    round(seed_agreement, 3) as seed_stability,
    round(agreement_with_previous, 3) as kept_from_previous,
    json_extract_string(params, '$.representation') as topic_words,
    round(fit_seconds, 1) as fit_seconds
from topic_runs
order by created_at;
