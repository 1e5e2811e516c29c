"""The HTTP routers, one per subject of API.md."""
