"""The paper venue: an exchange simulated in execution's own database, and the random-walk
market that moves it."""
