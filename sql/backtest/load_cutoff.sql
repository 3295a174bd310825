-- load_cutoff: adds the papers and embeddings of one cut-off step (views incoming_papers,
-- incoming_embeddings, incoming_theme_vectors) to a backtest's scratch store. Steps are
-- disjoint in dates, so nothing conflicts; a re-run of a step replaces its rows.
insert or replace into papers by name select * from incoming_papers;
insert or replace into paper_embeddings by name select * from incoming_embeddings;
insert or replace into theme_vectors by name select * from incoming_theme_vectors;
