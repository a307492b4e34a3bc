"""Two-factor sign-in: setting it up and answering the challenge."""
