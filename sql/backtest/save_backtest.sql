-- save_backtest: writes one backtest run (views incoming_backtest_run, incoming_backtest_calls,
-- incoming_backtest_scores), replacing any earlier rows of the same backtest_run_id.
delete from backtest_scores where backtest_run_id in (select backtest_run_id from incoming_backtest_run);
delete from backtest_calls where backtest_run_id in (select backtest_run_id from incoming_backtest_run);
delete from backtest_runs where backtest_run_id in (select backtest_run_id from incoming_backtest_run);
insert into backtest_runs by name select * from incoming_backtest_run;
insert into backtest_calls by name select * from incoming_backtest_calls;
insert into backtest_scores by name select * from incoming_backtest_scores;
