"""Pure ordering rules: dates, cut-offs and the order state machine."""
