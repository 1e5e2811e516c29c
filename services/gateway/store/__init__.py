"""The gateway's SQL, by subject. Every function runs on the caller's connection and inside
the caller's transaction; none commits on its own."""
