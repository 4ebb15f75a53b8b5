"""Artist analytics: rollups maintained on write, and the report read from them."""
