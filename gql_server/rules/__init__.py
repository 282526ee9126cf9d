"""Quality-control rules: pure evaluation of metrics into actions, apart from loading and acting.

- `vocabulary`: rule types, events, operators, action kinds.
- `metrics`: what conditions measure; shares and bounds derived from loaded counts.
- `triggers`: which metrics and actions go with which rule type and event.
- `actions`, `config`: the typed config and its stored JSON.
- `validation`: raw input (or stored JSON) to a config, or field errors.
- `evaluation`: a config and loaded metrics to a decision.
- `history`: the window of the worker's history the metrics count.
- `statistics`: interval estimates (Wilson).

Nothing here touches the database, the clock or GraphQL.
"""
