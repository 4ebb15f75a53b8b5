"""The browser client: the mobile app's web build (`mobile/dist`), served at `/`."""
