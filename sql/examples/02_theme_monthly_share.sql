-- A theme's monthly share with its 95% interval and the counts behind it.
-- Change the theme id to any id of themes/themes.toml (see the `themes` table), and the grain to
-- 'quarter' or 'year' to read it over longer periods. is_thin: too few papers to read the share.
select
    source,
    period_start,
    papers,
    denominator,
    round(share * 100, 2) as share_pct,
    round(ci_low * 100, 2) as ci_low_pct,
    round(ci_high * 100, 2) as ci_high_pct,
    is_partial,
    is_thin
from theme_shares
where theme_id = 'diffusion-models' and period_grain = 'month'
order by source, period_start;
