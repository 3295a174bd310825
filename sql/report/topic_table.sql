-- One row per topic of the current fit (outliers included): label, terms, size, coherence, and
-- its growth figures on the main source (the source with the most papers in the fit).
with main_source as (
    select source from topic_shares group by source order by sum(papers) desc limit 1
)
select
    t.topic_id,
    t.stable_id,
    t.label,
    t.terms,
    t.size,
    t.npmi,
    g.papers as window_papers,
    g.n_periods,
    g.log_share_slope,
    g.recent_share,
    g.prior_share,
    g.share_ratio,
    g.trend_p,
    st.status
from topics t
left join topic_growth g
  on g.topic_id = t.topic_id and g.source = (select source from main_source)
left join topic_status st on st.topic_id = t.topic_id and st.source = g.source
where t.topic_run_id = $topic_run_id
order by t.topic_id = -1, t.size desc;
