-- Papers per source and review decision ('accepted', 'rejected' or NULL for none, e.g. arXiv):
-- what the report's shares count and leave out (see mart_builds for the decisions counted).
select source, decision, count(*)::bigint as papers
from papers
group by source, decision
order by source, decision nulls first;
