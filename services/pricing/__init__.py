"""Pricing: cards and wallets, policies, quotes, charges, the ledger and settlement."""
