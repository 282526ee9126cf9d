"""Quality control: rule configs and their validation, the evaluator, the rule engine, rule
history, skills and restrictions."""
