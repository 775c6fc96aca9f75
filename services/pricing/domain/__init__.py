"""Pure pricing rules: age tiers, group subsidies, funder split and ledger postings."""
