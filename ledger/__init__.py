"""Double-entry ledger of what the platform owes artists, payouts, and the on-chain mirror."""
