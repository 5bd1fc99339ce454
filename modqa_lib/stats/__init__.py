"""Statistics: sampling, scoring, agreement, model evaluation, RCA, drift, effects, ranking."""
