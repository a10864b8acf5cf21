DROP TABLE review_rule_runs;
DROP TABLE review_rule_decisions;
DROP TABLE review_rule_versions;
