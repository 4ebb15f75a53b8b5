"""The browser client: one page that logs in, lists events and plays a granted stream."""
